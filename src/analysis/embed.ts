// 2-D maps of latent codes coloured by set (ID train / ID test / OoD ...), by t-SNE and UMAP.
//
// UMAP: umap-js (McInnes, Healy & Melville, "UMAP: Uniform Manifold Approximation and Projection",
// 2018), seeded through its `random` option - umap-js otherwise falls back to Math.random.
//
// t-SNE: hand-written exact t-SNE (van der Maaten & Hinton, "Visualizing Data using t-SNE", JMLR
// 2008): per-point perplexity calibration by binary search, symmetrised P, early exaggeration,
// momentum gradient descent with the delta-bar-delta gains of the reference implementation. Why
// hand-written: umap-js has no t-SNE; the npm candidate, tsne-js (scienceai, a single 1.0.3 release
// per `npm view tsne-js time`), pulls in the ndarray/cwise stack, is not a dependency here, and would
// have to be shown seeded and correct anyway; ~100 lines of exact t-SNE are easier to trust. The exact
// O(n^2) gradient (one pass over each pair per step) takes ~14 s for 2000 x 128 codes and 1000 steps
// on one core of the dev box - fine for a figure, and free of Barnes-Hut's approximation error. Inputs
// are therefore subsampled to <= 2000 points, stratified by set and seeded (embedSets).
import { UMAP } from 'umap-js';
import { OodgenError } from '../errors.js';
import { checkMatrix, gaussian, mulberry32, rowsOf, shuffle, type Matrix } from './matrix.js';

export interface TsneOptions {
  /** Effective number of neighbours. Default 30, clamped to (n - 1) / 3 for small n. */
  perplexity?: number;
  /** Gradient steps. Default 1000. */
  iterations?: number;
  /** Factor on P during the first `exaggerationIters` steps. Default 12 (as sklearn / openTSNE). */
  earlyExaggeration?: number;
  exaggerationIters?: number;
  /** Default max(n / earlyExaggeration / 4, 50) (Belkina et al. 2019; sklearn's 'auto'). */
  learningRate?: number;
  seed?: number;
}

/** Exact t-SNE of n x d rows to n x 2 (row-major Float32Array). */
export function tsne(X: Matrix, n: number, d: number, opts: TsneOptions = {}): Float32Array {
  checkMatrix(X, n, d, 'tsne: X', 2);
  if (n > 5000) throw new OodgenError(`tsne: exact t-SNE is O(n^2) in memory and time; got n = ${n}, subsample to <= 5000 (embedSets does)`);
  const iterations = opts.iterations ?? 1000;
  const exag = opts.earlyExaggeration ?? 12;
  const exagIters = Math.min(opts.exaggerationIters ?? 250, iterations);
  const perplexity = Math.min(opts.perplexity ?? 30, Math.max(1, (n - 1) / 3));
  const lr = opts.learningRate ?? Math.max(n / exag / 4, 50);
  if (!(perplexity > 0)) throw new OodgenError(`tsne: perplexity must be positive, got ${opts.perplexity}`);

  // Squared Euclidean distances.
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) { const t = X[i * d + k] - X[j * d + k]; s += t * t; }
      D[i * n + j] = s; D[j * n + i] = s;
    }
  }
  // Conditional P_{j|i} with entropy log(perplexity), by bisection on the precision beta_i.
  const P = new Float64Array(n * n);
  const logU = Math.log(perplexity);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let beta = 1, lo = -Infinity, hi = Infinity;
    // Scale-free start: shift distances by the row minimum to avoid underflow of exp.
    let minD = Infinity;
    for (let j = 0; j < n; j++) if (j !== i && D[i * n + j] < minD) minD = D[i * n + j];
    for (let step = 0; step < 100; step++) {
      let sum = 0, sumDP = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) { row[j] = 0; continue; }
        const dd = D[i * n + j] - minD;
        const p = Math.exp(-dd * beta);
        row[j] = p; sum += p; sumDP += dd * p;
      }
      const H = Math.log(sum) + (beta * sumDP) / sum;
      for (let j = 0; j < n; j++) row[j] /= sum;
      const diff = H - logU;
      if (Math.abs(diff) < 1e-5) break;
      if (diff > 0) { lo = beta; beta = hi === Infinity ? beta * 2 : (beta + hi) / 2; }
      else { hi = beta; beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2; }
    }
    P.set(row, i * n);
  }
  // Symmetrise: p_ij = (p_{j|i} + p_{i|j}) / 2n.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const p = Math.max((P[i * n + j] + P[j * n + i]) / (2 * n), 1e-12);
      P[i * n + j] = p; P[j * n + i] = p;
    }
    P[i * n + i] = 0;
  }

  const g = gaussian(mulberry32(opts.seed ?? 0));
  const Y = new Float64Array(n * 2);
  for (let k = 0; k < Y.length; k++) Y[k] = g() * 1e-4;
  const update = new Float64Array(n * 2);
  const gains = new Float64Array(n * 2).fill(1);
  const grad = new Float64Array(n * 2);
  const attr = new Float64Array(n * 2);
  const rep = new Float64Array(n * 2);
  for (let it = 0; it < iterations; it++) {
    const ex = it < exagIters ? exag : 1;
    const momentum = it < exagIters ? 0.5 : 0.8;
    // dC/dy_i = 4 sum_j (ex p_ij - num_ij / Z) num_ij (y_i - y_j), num_ij = 1 / (1 + |y_i - y_j|^2),
    // Z = sum_{k != l} num_kl. Split into an attractive part and a repulsive part whose 1/Z factor is
    // applied at the end, so one pass over the upper triangle (each pair once) gives both.
    attr.fill(0); rep.fill(0);
    let Z = 0;
    for (let i = 0; i < n; i++) {
      const yi0 = Y[2 * i], yi1 = Y[2 * i + 1];
      let a0 = 0, a1 = 0, r0 = 0, r1 = 0;
      const off = i * n;
      for (let j = i + 1; j < n; j++) {
        const dx = yi0 - Y[2 * j], dy = yi1 - Y[2 * j + 1];
        const q = 1 / (1 + dx * dx + dy * dy);
        Z += 2 * q;
        const pa = ex * P[off + j] * q, qq = q * q;
        a0 += pa * dx; a1 += pa * dy; r0 += qq * dx; r1 += qq * dy;
        attr[2 * j] -= pa * dx; attr[2 * j + 1] -= pa * dy;
        rep[2 * j] -= qq * dx; rep[2 * j + 1] -= qq * dy;
      }
      attr[2 * i] += a0; attr[2 * i + 1] += a1; rep[2 * i] += r0; rep[2 * i + 1] += r1;
    }
    for (let k = 0; k < grad.length; k++) grad[k] = 4 * (attr[k] - rep[k] / Z);
    for (let k = 0; k < Y.length; k++) {
      gains[k] = Math.sign(grad[k]) !== Math.sign(update[k]) ? gains[k] + 0.2 : gains[k] * 0.8;
      if (gains[k] < 0.01) gains[k] = 0.01;
      update[k] = momentum * update[k] - lr * gains[k] * grad[k];
      Y[k] += update[k];
    }
    // Re-centre (the cost is translation-invariant).
    let c0 = 0, c1 = 0;
    for (let i = 0; i < n; i++) { c0 += Y[2 * i]; c1 += Y[2 * i + 1]; }
    c0 /= n; c1 /= n;
    for (let i = 0; i < n; i++) { Y[2 * i] -= c0; Y[2 * i + 1] -= c1; }
  }
  return Float32Array.from(Y);
}

export interface UmapOptions {
  nNeighbors?: number;
  minDist?: number;
  /** Default: umap-js's choice (500 for n <= 10,000). */
  nEpochs?: number;
  seed?: number;
}

/** UMAP (umap-js) of n x d rows to n x 2, seeded. */
export function umap(X: Matrix, n: number, d: number, opts: UmapOptions = {}): Float32Array {
  checkMatrix(X, n, d, 'umap: X', 3);
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(X.subarray(i * d, i * d + d)));
  const u = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(opts.nNeighbors ?? 15, n - 1),
    minDist: opts.minDist ?? 0.1,
    ...(opts.nEpochs !== undefined ? { nEpochs: opts.nEpochs } : {}),
    random: mulberry32(opts.seed ?? 0),
  });
  const E = u.fit(rows);
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) { out[2 * i] = E[i][0]; out[2 * i + 1] = E[i][1]; }
  return out;
}

/**
 * Seeded subsample of at most `maxPoints` of sum(sizes) items, stratified by set: set s gets
 * round(maxPoints * n_s / N) (largest remainders), each non-empty set at least one. Returns, per set,
 * the chosen row indices in ascending order.
 */
export function stratifiedSubsample(sizes: number[], maxPoints: number, seed = 0): Int32Array[] {
  const N = sizes.reduce((a, b) => a + b, 0);
  if (!Number.isInteger(maxPoints) || maxPoints < 1) throw new OodgenError(`stratifiedSubsample: maxPoints must be a positive integer, got ${maxPoints}`);
  const rand = mulberry32(seed);
  const all = (m: number) => Int32Array.from({ length: m }, (_, i) => i);
  if (N <= maxPoints) return sizes.map(all);
  const quota = sizes.map((m) => (maxPoints * m) / N);
  const take = quota.map((q, s) => Math.min(sizes[s], Math.max(sizes[s] > 0 ? 1 : 0, Math.floor(q))));
  let left = maxPoints - take.reduce((a, b) => a + b, 0);
  const byRemainder = quota.map((q, s) => s).sort((a, b) => (quota[b] - Math.floor(quota[b])) - (quota[a] - Math.floor(quota[a])) || a - b);
  for (const s of byRemainder) { if (left <= 0) break; if (take[s] < sizes[s]) { take[s]++; left--; } }
  return sizes.map((m, s) => {
    const idx = all(m);
    shuffle(idx, rand);
    return idx.slice(0, take[s]).sort();
  });
}

export interface EmbedSet {
  label: string;
  X: Matrix;
}

export interface Embedding {
  /** m x 2 row-major coordinates. */
  coords: Float32Array;
  /** For each point: index into `labels` (the set it comes from) and its row within that set. */
  set: Int32Array;
  row: Int32Array;
  labels: string[];
}

/** Subsample (stratified, seeded) the sets, stack them and embed them in 2-D. */
export function embedSets(sets: EmbedSet[], d: number, opts: {
  method: 'tsne' | 'umap'; maxPoints?: number; seed?: number; tsne?: TsneOptions; umap?: UmapOptions;
}): Embedding {
  if (sets.length === 0) throw new OodgenError('embedSets: no sets given');
  const sizes = sets.map((s) => rowsOf(s.X, d, `embedSets: set '${s.label}'`));
  const seed = opts.seed ?? 0;
  const picks = stratifiedSubsample(sizes, opts.maxPoints ?? 2000, seed);
  const m = picks.reduce((a, p) => a + p.length, 0);
  const X = new Float32Array(m * d);
  const set = new Int32Array(m), row = new Int32Array(m);
  let r = 0;
  picks.forEach((p, s) => {
    for (const i of p) { X.set(sets[s].X.subarray(i * d, i * d + d), r * d); set[r] = s; row[r] = i; r++; }
  });
  const coords = opts.method === 'tsne' ? tsne(X, m, d, { seed, ...opts.tsne })
    : opts.method === 'umap' ? umap(X, m, d, { seed, ...opts.umap })
      : (() => { throw new OodgenError(`embedSets: unknown method '${String(opts.method)}'`); })();
  return { coords, set, row, labels: sets.map((s) => s.label) };
}

/**
 * k-NN label purity of a 2-D (or any-D) embedding: the mean fraction of each point's k nearest
 * neighbours sharing its label. A number to put next to a map ("sets stay apart").
 */
export function knnPurity(coords: Matrix, dim: number, labels: ArrayLike<number>, k = 10): number {
  const n = rowsOf(coords, dim, 'knnPurity: coords');
  if (labels.length !== n) throw new OodgenError(`knnPurity: ${labels.length} labels for ${n} points`);
  if (!(k >= 1 && k < n)) throw new OodgenError(`knnPurity: k must be in [1, n - 1], got ${k}`);
  let total = 0;
  const dist = new Float64Array(n);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < dim; c++) { const t = coords[i * dim + c] - coords[j * dim + c]; s += t * t; }
      dist[j] = j === i ? Infinity : s;
      order[j] = j;
    }
    order.sort((a, b) => dist[a] - dist[b] || a - b);
    let same = 0;
    for (let q = 0; q < k; q++) if (labels[order[q]] === labels[i]) same++;
    total += same / k;
  }
  return total / n;
}
