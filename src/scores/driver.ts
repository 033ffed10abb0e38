// Batch-scoring driver: runs a detector over a whole image set in fixed-size batches, each inside `tidy`, with the
// model in a BatchNorm mode. With batch statistics (BN modes enc/dec/both) a score depends on the other images in
// its batch, so how batches are formed is part of the result and is returned with it:
//  - per-dataset (default): every batch holds images of one dataset only, in order; when the set size is not a
//    multiple of the batch size, the last batch is the last `batchSize` images (overlapping the one before, whose
//    scores are kept), so every batch has the same size and the same statistics noise;
//  - mixed (scoreMixed): the images of several sets are shuffled together (seeded), so each batch holds a mix.
import { imageBatch } from '../data/batches.js';
import { GOLDEN, mulberry32, shuffle } from '../data/rng.js';
import { keep, tidy, type Tensor } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import type { Detector, ImageSource, ScoreBatch } from './types.js';
import { applyBnModes, type BnMode } from './bn-mode.js';
import { OodgenError } from '../errors.js';
import { detectorNames, detectorSpec } from './registry.js';
import { runShardedBatches, shardingGroup } from './sharded.js';
import { drain, drainAsync, type Steps } from './steps.js';

export interface ScoreDatasetOptions {
  /**
   * 'sample' (default: the registered spec's granularity, else 'sample'): one score per image. 'batch': the
   * detector scores whole batches (DetectorSpec.granularity 'batch'), so the set is cut into disjoint batches of
   * batchSize (a short remainder is dropped) and the result holds one score per batch.
   */
  granularity?: 'sample' | 'batch';
  /** Images per batch (default 100). */
  batchSize?: number;
  /** BatchNorm statistics (default 'eval'). */
  bn?: BnMode;
  /** Device of the model (default: the model's own). */
  device?: string;
  /** Called after every batch with images done and total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * A NaN or infinite score: 'error' (default) throws an OodgenError naming the set and the image (or batch) index;
   * 'keep' returns it as is, for callers that record it explicitly (oodgen score --allow-non-finite).
   */
  nonFinite?: 'error' | 'keep';
}

/** Options of the interruptible scorers (scoreDatasetAsync, scoreMixedAsync). */
export interface AsyncScoreOptions {
  /** Stops the scoring at the next batch (or the next step of a detector with evaluateSteps) with signal.reason. */
  signal?: AbortSignal;
}

export interface ScoreDatasetResult {
  score: Float32Array;
  columns: Record<string, Float32Array>;
  n: number;
  bn: BnMode;
  batchSize: number;
  batching: 'per-dataset' | 'mixed';
  /** A sentence for reports on how batches were formed. */
  batchingNote: string;
}

const isModelLike = (d: Detector): LatentModel | null => (d.model as LatentModel | undefined) ?? null;

/** Every model the detector scores with (Detector.models, else its one model) in the row's BatchNorm mode. */
const applyBnModeAll = (detector: Detector, bn: BnMode): (() => void) =>
  applyBnModes(detector.models ?? (detector.model ? [detector.model] : []), bn);

/** Batches of `size` over positions 0..n-1; a short last batch is widened backwards to full size. */
export function fixedSizeBatches(n: number, size: number): { start: number; keepFrom: number }[] {
  if (!Number.isInteger(size) || size < 1) throw new OodgenError(`batch size must be a positive integer, got ${size}`);
  const out: { start: number; keepFrom: number }[] = [];
  for (let s = 0; s < n; s += size) {
    if (s + size <= n || n <= size) out.push({ start: s, keepFrom: 0 });
    else out.push({ start: n - size, keepFrom: s - (n - size) });
  }
  return out;
}

/**
 * Throws when a score is NaN or infinite (a diverged checkpoint, an overflow), naming the set and the first bad
 * index, so that no silent null ends up in a score file or a metric.
 */
export function assertFiniteScores(score: Float32Array, what: string, unit: 'image' | 'batch' = 'image', o: { nonFinite?: 'error' | 'keep' } = {}): void {
  if (o.nonFinite === 'keep') return;
  let bad = 0, first = -1;
  for (let i = 0; i < score.length; i++) {
    if (!Number.isFinite(score[i]!)) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad === 0) return;
  throw new OodgenError(`${what}: score of ${unit} ${first} is ${score[first]}` + (bad > 1 ? ` (${bad} of ${score.length} scores are NaN or infinite)` : '') +
    '; the model gives this input no finite score (a diverged checkpoint?). To record such scores instead, pass nonFinite: \'keep\' (oodgen score --allow-non-finite)');
}

function checkSource(src: ImageSource, what: string): void {
  const [n, c, h, w] = src.shape;
  if (n < 1) throw new OodgenError(`${what}: no images to score`);
  if (src.images.length !== n * c * h * w) throw new OodgenError(`${what}: ${src.images.length} values do not match shape ${src.shape.join('x')}`);
}

function merge(into: Record<string, Float32Array>, n: number, r: ScoreBatch, positions: ArrayLike<number>, keepFrom: number, score: Float32Array): void {
  for (let i = keepFrom; i < positions.length; i++) score[positions[i]!] = r.score[i]!;
  for (const [k, v] of Object.entries(r.columns)) {
    const col = (into[k] ??= new Float32Array(n).fill(NaN));
    for (let i = keepFrom; i < positions.length; i++) col[positions[i]!] = v[i]!;
  }
}

/**
 * One batch through the detector. `stepped` (the interruptible scorers): a detector with evaluateSteps runs in
 * steps, so the caller can pause inside the batch; otherwise evaluate() at once, as the synchronous API does.
 */
function* evalSteps(detector: Detector, x: () => Tensor, stepped: boolean): Steps<ScoreBatch> {
  if (!stepped || !detector.evaluateSteps) return tidy(() => detector.evaluate(x()));
  const xt = tidy(() => keep(x()));
  try {
    return yield* detector.evaluateSteps(xt);
  } finally {
    xt.dispose();
  }
}

function* runBatches(
  detector: Detector, n: number, batchSize: number, bn: BnMode, device: string | undefined,
  batchOf: (b: { start: number; keepFrom: number }, size: number) => { positions: ArrayLike<number>; x: () => Tensor },
  onProgress: ((done: number, total: number) => void) | undefined, stepped: boolean,
): Steps<{ score: Float32Array; columns: Record<string, Float32Array>; size: number }> {
  const size = Math.min(batchSize, n);
  const score = new Float32Array(n).fill(NaN);
  const columns: Record<string, Float32Array> = {};
  const restore = applyBnModeAll(detector, bn);
  try {
    let done = 0;
    const evalBatch = (b: { start: number; keepFrom: number }): number => {
      const { positions, x } = batchOf(b, size);
      const r = tidy(() => detector.evaluate(x()));
      merge(columns, n, r, positions, b.keepFrom, score);
      return positions.length - b.keepFrom;
    };
    // --nproc N: this rank scores its block of batches, then all ranks gather (sharded.ts); the ranks' collectives
    // do not pause, so sharded scoring is not interruptible inside a set.
    const pg = shardingGroup();
    if (pg) runShardedBatches(pg, detector, fixedSizeBatches(n, size), size, n, evalBatch, score, columns, onProgress);
    else {
      for (const b of fixedSizeBatches(n, size)) {
        const { positions, x } = batchOf(b, size);
        const r = yield* evalSteps(detector, x, stepped);
        merge(columns, n, r, positions, b.keepFrom, score);
        done += positions.length - b.keepFrom;
        onProgress?.(done, n);
        yield;
      }
    }
  } finally {
    restore();
  }
  return { score, columns, size };
}

function granularityOf(detector: Detector, o: ScoreDatasetOptions): 'sample' | 'batch' {
  if (o.granularity) return o.granularity;
  return detectorNames().includes(detector.name) ? detectorSpec(detector.name).granularity : 'sample';
}

/** A batch detector over disjoint batches: one score (and one value per column) per batch. */
function* scoreGroups(detector: Detector, images: ImageSource, o: ScoreDatasetOptions, bn: BnMode, dev: string, stepped: boolean): Steps<ScoreDatasetResult> {
  const n = images.shape[0];
  const size = o.batchSize ?? 100;
  const groups = Math.floor(n / size);
  if (groups < 1) throw new OodgenError(`${images.name ?? 'images'}: batch detector '${detector.name}' needs at least one batch of ${size} images, got ${n}`);
  const restore = applyBnModeAll(detector, bn);
  const score = new Float32Array(groups);
  const columns: Record<string, Float32Array> = {};
  try {
    for (let g = 0; g < groups; g++) {
      const positions = Array.from({ length: size }, (_, i) => g * size + i);
      const r = yield* evalSteps(detector, () => imageBatch(images, positions, dev), stepped);
      if (r.score.length !== 1) throw new OodgenError(`batch detector '${detector.name}' returned ${r.score.length} scores for one batch (expected 1)`);
      score[g] = r.score[0]!;
      for (const [k, v] of Object.entries(r.columns)) (columns[k] ??= new Float32Array(groups).fill(NaN))[g] = v[0]!;
      o.onProgress?.((g + 1) * size, n);
      yield;
    }
  } finally {
    restore();
  }
  return {
    score, columns, n: groups, bn, batchSize: size, batching: 'per-dataset',
    batchingNote: `one score per disjoint batch of ${size} images of one dataset (${groups} batches` + (n % size ? `; the last ${n % size} images were not scored)` : ')'),
  };
}

function* scoreDatasetSteps(detector: Detector, images: ImageSource, o: ScoreDatasetOptions, stepped: boolean): Steps<ScoreDatasetResult> {
  checkSource(images, images.name ?? 'images');
  const n = images.shape[0];
  const bn = o.bn ?? 'eval';
  const model = isModelLike(detector);
  const dev = o.device ?? model?.device ?? 'cpu';
  if (granularityOf(detector, o) === 'batch') {
    const g = yield* scoreGroups(detector, images, o, bn, dev, stepped);
    assertFiniteScores(g.score, `${images.name ?? 'images'} (${detector.name})`, 'batch', o);
    return g;
  }
  const r = yield* runBatches(detector, n, o.batchSize ?? 100, bn, dev, (b, size) => {
    const positions = Array.from({ length: size }, (_, i) => b.start + i);
    return { positions, x: () => imageBatch(images, positions, dev) };
  }, o.onProgress, stepped);
  assertFiniteScores(r.score, `${images.name ?? 'images'} (${detector.name})`, 'image', o);
  return {
    score: r.score, columns: r.columns, n, bn, batchSize: r.size, batching: 'per-dataset',
    batchingNote: `each batch of ${r.size} held images of one dataset only` + (n % r.size ? ` (the last batch re-used the preceding ${r.size - (n % r.size)} images to stay full-size; their first scores were kept)` : ''),
  };
}

/** Scores one image set on its own (every batch holds images of this set only). */
export function scoreDataset(detector: Detector, images: ImageSource, o: ScoreDatasetOptions = {}): ScoreDatasetResult {
  return drain(scoreDatasetSteps(detector, images, o, false));
}

/**
 * scoreDataset with the same numbers, giving the event loop a turn after every batch (and every step of a detector
 * with evaluateSteps), so a signal handler runs; stops with `signal.reason` when the signal aborts, all native
 * memory of the partial work freed.
 */
export function scoreDatasetAsync(detector: Detector, images: ImageSource, o: ScoreDatasetOptions & AsyncScoreOptions = {}): Promise<ScoreDatasetResult> {
  return drainAsync(scoreDatasetSteps(detector, images, o, true), o.signal);
}

/** A seeded permutation of 0..n-1 (Fisher-Yates over data/rng.ts mulberry32, GOLDEN salt: the documented stream). */
function shuffled(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  shuffle(p, mulberry32(seed, GOLDEN));
  return p;
}

function* scoreMixedSteps(detector: Detector, sets: ImageSource[], o: ScoreDatasetOptions & { seed?: number }, stepped: boolean): Steps<ScoreDatasetResult[]> {
  if (sets.length === 0) throw new OodgenError('scoreMixed: no image sets');
  if (granularityOf(detector, o) === 'batch') throw new OodgenError(`scoreMixed: '${detector.name}' scores whole batches; mixing sets in one batch would give one score to a mix (score each set on its own)`);
  sets.forEach((s, i) => checkSource(s, s.name ?? `set ${i}`));
  const [, c, h, w] = sets[0]!.shape;
  for (const s of sets) {
    if (s.shape[1] !== c || s.shape[2] !== h || s.shape[3] !== w) throw new OodgenError(`scoreMixed: image shapes differ (${sets.map((t) => t.shape.slice(1).join('x')).join(' vs ')})`);
  }
  const offsets: number[] = [];
  let total = 0;
  for (const s of sets) {
    offsets.push(total);
    total += s.shape[0];
  }
  const setOf = new Int32Array(total);
  const local = new Int32Array(total);
  sets.forEach((s, k) => {
    for (let i = 0; i < s.shape[0]; i++) {
      setOf[offsets[k]! + i] = k;
      local[offsets[k]! + i] = i;
    }
  });
  const order = shuffled(total, o.seed ?? 0);
  const bn = o.bn ?? 'eval';
  const model = isModelLike(detector);
  const dev = o.device ?? model?.device ?? 'cpu';
  const per = c * h * w;
  const r = yield* runBatches(detector, total, o.batchSize ?? 100, bn, dev, (b, size) => {
    const positions = Array.from({ length: size }, (_, i) => b.start + i);
    return {
      positions,
      x: () => {
        const buf = new Float32Array(size * per);
        positions.forEach((p, i) => {
          const g = order[p]!;
          const src = sets[setOf[g]!]!;
          const off = local[g]! * per;
          const scale = src.images instanceof Uint8Array ? 1 / 255 : 1;
          for (let j = 0; j < per; j++) buf[i * per + j] = src.images[off + j]! * scale;
        });
        return imageBatch({ images: buf, shape: [size, c, h, w] }, positions.map((_, i) => i), dev);
      },
    };
  }, o.onProgress, stepped);
  // Un-shuffle: position p of the run holds global image order[p].
  const note = `batches of ${r.size} mixed the images of ${sets.map((s, i) => s.name ?? `set ${i}`).join(', ')} (seeded shuffle, seed ${o.seed ?? 0})`;
  return sets.map((s, k) => {
    const n = s.shape[0];
    const score = new Float32Array(n);
    const columns: Record<string, Float32Array> = {};
    for (const key of Object.keys(r.columns)) columns[key] = new Float32Array(n);
    for (let p = 0; p < total; p++) {
      const g = order[p]!;
      if (setOf[g] !== k) continue;
      score[local[g]!] = r.score[p]!;
      for (const key of Object.keys(r.columns)) columns[key]![local[g]!] = r.columns[key]![p]!;
    }
    assertFiniteScores(score, `${s.name ?? `set ${k}`} (${detector.name})`, 'image', o);
    return { score, columns, n, bn, batchSize: r.size, batching: 'mixed' as const, batchingNote: note };
  });
}

/**
 * Scores several sets with their images shuffled together (seeded), so each batch mixes sets in proportion to
 * their sizes; returns one result per set, in order.
 */
export function scoreMixed(detector: Detector, sets: ImageSource[], o: ScoreDatasetOptions & { seed?: number } = {}): ScoreDatasetResult[] {
  return drain(scoreMixedSteps(detector, sets, o, false));
}

/** scoreMixed, interruptible as scoreDatasetAsync is. */
export function scoreMixedAsync(detector: Detector, sets: ImageSource[], o: ScoreDatasetOptions & { seed?: number } & AsyncScoreOptions = {}): Promise<ScoreDatasetResult[]> {
  return drainAsync(scoreMixedSteps(detector, sets, o, true), o.signal);
}
