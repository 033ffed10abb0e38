// LPath's inference-path statistics plus a deep nearest-neighbour distance in the latent space, combined by
// Fisher's method over their conformal p-values (a "DoSE over statistics" with a parameter-free second stage).
//
// Statistics of an image x (all one-sided: larger = more out-of-distribution):
//   u = ||x - mu_x(mu_z(x))||, v = ||mu_z(x)||, w = ||sigma_z(x)||, s = ||sigma_x(mu_z(x))||   (LPath, lpath.ts;
//       statistics constant on the ID data are dropped, e.g. s for a decoder with a per-channel variance)
//   d = ||zhat(x) - zhat_(k)||, zhat = mu_z / ||mu_z||: the distance of the L2-normalised posterior mean to its k-th
//       nearest normalised ID code (Sun, Ming, Zhu & Li, "Out-of-Distribution Detection with Deep Nearest
//       Neighbors", ICML 2022: k-th NN distance of normalised features). It sees where a code falls *inside* the
//       ID cloud, which the norms v, w and a single Gaussian cannot: a flipped shoe keeps the norms of a shoe.
// Fitting on n ID images keeps the normalised codes (the bank) and each statistic's reference values; the
// reference value of d for a fitting image is its k-th nearest *other* bank code (leave-one-out), so reference
// and test distances are measured alike.
// Score (Fisher 1925; per-statistic conformal p-values as in Haroush, Frostig, Heller & Soudry, "A Statistical
// Framework for Efficient Out of Distribution Detection in Deep Neural Networks", ICLR 2022):
//   p_j(x) = (1 + #{i : t_j(x_i) >= t_j(x)}) / (n + 1),   score(x) = -2 sum_j log p_j(x).
// The statistics are dependent, so the score is a ranking, not a chi-square-calibrated p-value.
import type { Tensor } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import { OodgenError } from '../errors.js';
import { LPATH_STATS, lpathStatistics } from './lpath.js';
import { posteriorMeans } from './mahalanobis-latent.js';
import type { Detector, DetectorSpec, DetectorState, FitContext, ImageSource, ScoreBatch } from './types.js';
import { collectColumns, collectRows } from './collect.js';
import { f64, intOption, latent, notFitted, stateArray } from './fitted.js';

/** Rows of a row-major (n, d) matrix scaled to unit L2 norm (a zero row stays zero, as sklearn's normalize). */
export function normaliseRows(X: ArrayLike<number>, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += X[i * d + j]! ** 2;
    const r = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) out[i * d + j] = X[i * d + j]! * r;
  }
  return out;
}

/**
 * Distance of each query row to its k-th nearest bank row (Euclidean, brute force). `skipSelf`: the queries are
 * the bank itself and row i's own zero distance is left out (leave-one-out).
 */
export function kthNeighbourDistance(bank: Float64Array, nb: number, q: Float64Array, nq: number, d: number, k: number, skipSelf = false): Float64Array {
  const avail = skipSelf ? nb - 1 : nb;
  if (!Number.isInteger(k) || k < 1 || k > avail) throw new OodgenError(`lpath-knn: neighbours must be an integer in [1, ${avail}] for a bank of ${nb} ID codes${skipSelf ? ' (leave-one-out)' : ''}, got ${k}`);
  const out = new Float64Array(nq);
  const best = new Float64Array(k); // the k smallest squared distances so far, ascending
  for (let a = 0; a < nq; a++) {
    best.fill(Infinity);
    for (let b = 0; b < nb; b++) {
      if (skipSelf && a === b) continue;
      let s = 0;
      for (let j = 0; j < d; j++) { const t = q[a * d + j]! - bank[b * d + j]!; s += t * t; }
      if (s >= best[k - 1]!) continue;
      let p = k - 1;
      while (p > 0 && best[p - 1]! > s) { best[p] = best[p - 1]!; p--; }
      best[p] = s;
    }
    out[a] = Math.sqrt(best[k - 1]!);
  }
  return out;
}

export interface LpathKnnState {
  /** Statistics used, in order (LPath's non-constant ones, then 'knn'). */
  used: string[];
  dropped: string[];
  neighbours: number;
  n: number;
  zDim: number;
  /** Normalised ID posterior means, row-major (n, zDim). */
  bank: Float64Array;
  /** Each used statistic's ID reference values, ascending. */
  reference: Record<string, Float64Array>;
}

/** Fits from the ID statistics (u, v, w, s) and posterior means (n, zDim). */
export function fitLpathKnn(stats: Record<string, ArrayLike<number>>, mu: ArrayLike<number>, n: number, zDim: number, neighbours = 5): LpathKnnState {
  if (n < 2) throw new OodgenError(`lpath-knn: needs at least 2 ID images to fit, got ${n}`);
  if (mu.length !== n * zDim) throw new OodgenError(`lpath-knn: posterior means have ${mu.length} values, expected ${n} x ${zDim}`);
  const used: string[] = [], dropped: string[] = [];
  const reference: Record<string, Float64Array> = {};
  for (const k of LPATH_STATS) {
    const c = stats[k];
    if (!c || c.length !== n) throw new OodgenError(`lpath-knn: statistic '${k}' missing or of the wrong length`);
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) { lo = Math.min(lo, c[i]!); hi = Math.max(hi, c[i]!); }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new OodgenError(`lpath-knn: statistic '${k}' is not finite on the ID data`);
    if (hi - lo > 1e-6 * Math.max(1, Math.abs(hi))) { used.push(k); reference[k] = Float64Array.from(c).sort(); } else dropped.push(k);
  }
  const bank = normaliseRows(mu, n, zDim);
  reference.knn = kthNeighbourDistance(bank, n, bank, n, zDim, neighbours, true).sort();
  used.push('knn');
  return { used, dropped, neighbours, n, zDim, bank, reference };
}

/** Number of sorted values >= t. */
function countAtLeast(sorted: Float64Array, t: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (sorted[m]! < t) lo = m + 1; else hi = m; }
  return sorted.length - lo;
}

/** Fisher scores and each statistic's value (knn included) for m images. */
export function scoreLpathKnn(state: LpathKnnState, stats: Record<string, ArrayLike<number>>, mu: ArrayLike<number>, m: number): { score: Float64Array; values: Record<string, Float64Array> } {
  if (mu.length !== m * state.zDim) throw new OodgenError(`lpath-knn: posterior means have ${mu.length} values, expected ${m} x ${state.zDim}`);
  const values: Record<string, Float64Array> = {};
  for (const k of state.used) {
    if (k === 'knn') continue;
    const c = stats[k];
    if (!c || c.length !== m) throw new OodgenError(`lpath-knn: statistic '${k}' missing or of the wrong length`);
    values[k] = Float64Array.from(c);
  }
  values.knn = kthNeighbourDistance(state.bank, state.n, normaliseRows(mu, m, state.zDim), m, state.zDim, state.neighbours);
  const score = new Float64Array(m);
  for (const k of state.used) {
    const ref = state.reference[k]!, v = values[k]!;
    // A NaN statistic compares false everywhere and would get p = 1/(n+1) by accident; say so instead.
    for (let i = 0; i < m; i++) {
      if (Number.isNaN(v[i]!)) throw new OodgenError(`lpath-knn: statistic '${k}' of image ${i} is NaN`);
      score[i] = score[i]! - 2 * Math.log((1 + countAtLeast(ref, v[i]!)) / (state.n + 1));
    }
  }
  return { score, values };
}

// ---- Detector (registered in builtin.ts) ----

export class LpathKnnDetector implements Detector {
  readonly name = 'lpath-knn';
  readonly description: string;
  readonly neighbours: number;
  private state: LpathKnnState | null = null;
  private meta: Record<string, unknown> = {};
  constructor(readonly model: LatentModel, o: Record<string, unknown> = {}) {
    this.neighbours = intOption(o.neighbours, 5, 'lpath-knn: neighbours');
    this.description = `Fisher's combination -2 sum_j log p_j of the conformal p-values of LPath's u, v, w, s and the ${this.neighbours}-th nearest-neighbour distance of the normalised posterior mean to the ID codes`;
  }
  get fitted(): boolean { return this.state !== null; }
  private inputs(x: Tensor): { stats: Record<string, Float32Array>; mu: Float32Array } {
    return { stats: lpathStatistics(this.model, x), mu: posteriorMeans(this.model, x) };
  }
  async fit(id: ImageSource, ctx: FitContext = {}): Promise<void> {
    const z = this.model.config.zDim, n = id.shape[0];
    const stats = await collectColumns(this.model, id, (x) => lpathStatistics(this.model, x), { batchSize: ctx.batchSize, signal: ctx.signal });
    const mu = await collectRows(this.model, id, z, (x) => posteriorMeans(this.model, x), { batchSize: ctx.batchSize, signal: ctx.signal });
    this.state = fitLpathKnn(stats, mu, n, z, this.neighbours);
    this.meta = { used: this.state.used, dropped: this.state.dropped, neighbours: this.neighbours, n, zDim: z, data: ctx.data ?? id.name ?? 'in-distribution images' };
  }
  saveState(): DetectorState {
    const s = this.state;
    if (!s) throw notFitted(this.name);
    const arrays: DetectorState['arrays'] = { bank: f64(s.bank, [s.n, s.zDim]) };
    for (const k of s.used) arrays[`ref_${k}`] = f64(s.reference[k]!);
    return { meta: this.meta, arrays };
  }
  loadState(st: DetectorState): void {
    const m = st.meta;
    const z = this.model.config.zDim;
    if (m.zDim !== z) throw new OodgenError(`lpath-knn: state is for a ${String(m.zDim)}-dimensional latent, the model has ${z}`);
    if (m.neighbours !== this.neighbours) throw new OodgenError(`lpath-knn: state was fitted with neighbours = ${String(m.neighbours)}, this detector uses ${this.neighbours} (refit: oodgen fit --checkpoint RUN --detector lpath-knn --neighbours ${this.neighbours})`);
    const used = m.used as string[], n = Number(m.n);
    if (!Array.isArray(used) || used.at(-1) !== 'knn' || used.slice(0, -1).some((k) => !(LPATH_STATS as readonly string[]).includes(k))) throw new OodgenError('lpath-knn: state lists unknown statistics');
    if (!Number.isInteger(n) || n < 2) throw new OodgenError(`lpath-knn: state has an invalid image count ${String(m.n)}`);
    const reference: Record<string, Float64Array> = {};
    for (const k of used) reference[k] = stateArray(st, `ref_${k}`, n);
    this.state = { used, dropped: (m.dropped as string[]) ?? [], neighbours: this.neighbours, n, zDim: z, bank: stateArray(st, 'bank', n * z), reference };
    this.meta = m;
  }
  evaluate(x: Tensor): ScoreBatch {
    if (!this.state) throw notFitted(this.name);
    const { stats, mu } = this.inputs(x);
    const r = scoreLpathKnn(this.state, stats, mu, x.shape[0]!);
    const score = Float32Array.from(r.score);
    return { score, columns: { 'lpath-knn': score, ...stats, knn: Float32Array.from(r.values.knn!) } };
  }
  score(x: Tensor): Float32Array { return this.evaluate(x).score; }
  settings(): Record<string, unknown> { return { neighbours: this.neighbours, code: 'L2-normalised posterior mean', combination: 'Fisher, one-sided conformal p-values' }; }
}

export const lpathKnnSpec: DetectorSpec = {
  name: 'lpath-knn',
  title: "LPath's u, v, w, s plus the k-th nearest-neighbour distance of the normalised posterior mean, combined by Fisher's method over conformal p-values fitted on ID data",
  reference: 'Huang et al., "Inference, Fast and Slow: Reinterpreting VAEs for OOD Detection" (LPath statistics); Sun, Ming, Zhu & Li, "Out-of-Distribution Detection with Deep Nearest Neighbors", ICML 2022; Fisher\'s combination of p-values as in Haroush et al., ICLR 2022',
  granularity: 'sample',
  needs: ['encode', 'posterior', 'decode'],
  fits: true,
  options: { neighbours: 'k of the k-th nearest ID code (default 5)' },
  columns: {
    'lpath-knn': "Fisher's -2 sum log p", u: 'L2 norm', v: 'L2 norm', w: 'L2 norm', s: 'L2 norm',
    knn: 'distance of the normalised posterior mean to its k-th nearest normalised ID code',
  },
  axis: "lpath-knn: Fisher's -2 sum_j log p_j",
  units: '-2 sum of log conformal p-values',
  create: ({ model, options }) => new LpathKnnDetector(latent(model, "score 'lpath-knn'"), options),
};
