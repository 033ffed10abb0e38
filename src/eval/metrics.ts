/**
 * Threshold-free OoD detection metrics.
 *
 * Convention (Hendrycks & Gimpel 2017, "A Baseline for Detecting Misclassified and
 * Out-of-Distribution Examples"; also pytorch-ood): OoD is the positive class and a higher score
 * means "more OoD". Every metric is defined to agree with scikit-learn to floating-point accuracy,
 * including ties, which are common with discrete scores (bits/dim rounded, counts, quantised
 * likelihoods) and which naive sort-and-sweep implementations get wrong.
 *
 * All metrics are computed from one representation: the distinct score values in decreasing
 * order, each with the number of OoD and ID samples holding it ("groups"). Tied samples always
 * move together across a threshold, which is exactly how sklearn's `_binary_clf_curve` treats
 * them. The bootstrap reuses the group structure of the full sample, so it never re-sorts.
 */
import { OodgenError } from '../errors.js';
import { mulberry32 } from './prng.js';

export const METRIC_NAMES = ['AUROC', 'AUPR-IN', 'AUPR-OUT', 'FPR95TPR'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export type OodMetrics = Record<MetricName, number> & { nId: number; nOod: number };

export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /** Score threshold of each point (predict OoD when score >= threshold); the first is +Infinity. */
  thresholds: number[];
}

export interface Interval {
  value: number;
  low: number;
  high: number;
}

export type BootstrapMetrics = Record<MetricName, Interval> & {
  nId: number;
  nOod: number;
  reps: number;
  seed: number;
  alpha: number;
  /** Every replicate's value, in draw order; only with `keepReplicates` (e.g. to plot them). */
  replicates?: Record<MetricName, Float64Array>;
};

export interface BootstrapOptions {
  reps?: number;
  seed?: number;
  alpha?: number;
  keepReplicates?: boolean;
}

/** The TPR level of FPR@TPR: 95% is the value used throughout the OoD literature. */
const TPR_LEVEL = 0.95;

/** Copies to Float64Array and rejects what no metric can be computed from. */
function checkScores(scores: ArrayLike<number>, side: 'ID' | 'OoD'): Float64Array {
  if (scores.length === 0) throw new OodgenError(`no ${side} scores: both sides need at least one score`);
  const out = Float64Array.from(scores);
  let nan = 0;
  for (let i = 0; i < out.length; i++) if (Number.isNaN(out[i]!)) nan++;
  if (nan > 0) {
    throw new OodgenError(
      `${nan} of ${out.length} ${side} scores are NaN; a NaN score has no rank, so the metrics are undefined ` +
        `(remove or fix those samples first)`,
    );
  }
  return out;
}

/**
 * The merged sample in decreasing score order, cut into groups of equal score.
 * `order[k]` indexes into the concatenation [id..., ood...]; group g spans
 * order[start[g] .. start[g+1]).
 */
interface Sorted {
  nId: number;
  nOod: number;
  order: Int32Array;
  start: Int32Array;
  values: Float64Array; // score of each group
  idCount: Float64Array; // ID samples per group
  oodCount: Float64Array; // OoD samples per group
}

function sortAndGroup(id: Float64Array, ood: Float64Array): Sorted {
  const nId = id.length;
  const n = nId + ood.length;
  const all = new Float64Array(n);
  all.set(id);
  all.set(ood, nId);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => all[b]! - all[a]!); // -Infinity/Infinity compare fine; NaN was rejected
  const starts: number[] = [];
  for (let k = 0; k < n; k++) if (k === 0 || all[order[k]!]! !== all[order[k - 1]!]!) starts.push(k);
  starts.push(n);
  const g = starts.length - 1;
  const values = new Float64Array(g);
  const idCount = new Float64Array(g);
  const oodCount = new Float64Array(g);
  for (let j = 0; j < g; j++) {
    values[j] = all[order[starts[j]!]!]!;
    for (let k = starts[j]!; k < starts[j + 1]!; k++) {
      if (order[k]! < nId) idCount[j]!++;
      else oodCount[j]!++;
    }
  }
  return { nId, nOod: ood.length, order, start: Int32Array.from(starts), values, idCount, oodCount };
}

/**
 * Metrics from per-group counts (groups in decreasing score order). Groups with zero count on
 * both sides are allowed (they arise in bootstrap resamples) and contribute nothing.
 */
function metricsFromGroups(idCount: Float64Array, oodCount: Float64Array): Record<MetricName, number> {
  const g = idCount.length;
  let P = 0;
  let N = 0;
  for (let j = 0; j < g; j++) {
    P += oodCount[j]!;
    N += idCount[j]!;
  }
  // One sweep from the highest score down. Counts are integers, so the sums are exact.
  let tp = 0; // OoD at or above the current threshold
  let fp = 0; // ID at or above the current threshold
  let aucPairs = 0; // (OoD, ID) pairs with OoD ranked higher, ties counted half (Mann–Whitney U)
  let apOut = 0;
  let fpr95 = NaN;
  for (let j = 0; j < g; j++) {
    const a = oodCount[j]!;
    const b = idCount[j]!;
    aucPairs += b * (tp + a / 2);
    tp += a;
    fp += b;
    // sklearn's average precision: sum over thresholds of (R_k - R_{k-1}) * P_k, no interpolation.
    if (a > 0) apOut += (a / P) * (tp / (tp + fp));
    // First ROC point (ties grouped) whose TPR reaches the level, as found on sklearn's roc_curve.
    if (Number.isNaN(fpr95) && a > 0 && tp / P >= TPR_LEVEL) fpr95 = fp / N;
  }
  // AUPR-IN: ID positive, score negated, i.e. the same groups swept from the lowest score up.
  let tpIn = 0;
  let fpIn = 0;
  let apIn = 0;
  for (let j = g - 1; j >= 0; j--) {
    const b = idCount[j]!;
    tpIn += b;
    fpIn += oodCount[j]!;
    if (b > 0) apIn += (b / N) * (tpIn / (tpIn + fpIn));
  }
  return { AUROC: aucPairs / (P * N), 'AUPR-IN': apIn, 'AUPR-OUT': apOut, FPR95TPR: fpr95 };
}

/** AUROC, AUPR-IN, AUPR-OUT and FPR at 95% TPR, OoD positive, higher score = more OoD. */
export function oodMetrics(idScores: ArrayLike<number>, oodScores: ArrayLike<number>): OodMetrics {
  const s = sortAndGroup(checkScores(idScores, 'ID'), checkScores(oodScores, 'OoD'));
  return { ...metricsFromGroups(s.idCount, s.oodCount), nId: s.nId, nOod: s.nOod };
}

/**
 * The ROC curve with one point per distinct score plus the origin, i.e. sklearn's
 * `roc_curve(..., drop_intermediate=False)`; the origin's threshold is +Infinity (newer sklearn).
 */
export function rocCurve(idScores: ArrayLike<number>, oodScores: ArrayLike<number>): RocCurve {
  const s = sortAndGroup(checkScores(idScores, 'ID'), checkScores(oodScores, 'OoD'));
  const fpr = [0];
  const tpr = [0];
  const thresholds = [Infinity];
  let tp = 0;
  let fp = 0;
  for (let j = 0; j < s.values.length; j++) {
    tp += s.oodCount[j]!;
    fp += s.idCount[j]!;
    fpr.push(fp / s.nId);
    tpr.push(tp / s.nOod);
    thresholds.push(s.values[j]!);
  }
  return { fpr, tpr, thresholds };
}

/** Linear-interpolated quantile of sorted data (numpy's default, method='linear'). */
function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Percentile-bootstrap confidence intervals (Efron & Tibshirani 1993, ch. 13). ID and OoD are
 * resampled separately, each to its own size, because they are independent samples from two
 * distributions; pooling them would let the class ratio vary between replicates, which changes
 * AUPR and is not a source of uncertainty in the experiment.
 *
 * A resample of a sorted sample is the same sorted sample with multiplicities, so each replicate
 * is a multinomial draw of counts followed by one O(n) pass over the precomputed groups: no sort
 * per replicate.
 */
export function bootstrapMetrics(
  idScores: ArrayLike<number>,
  oodScores: ArrayLike<number>,
  opts: BootstrapOptions = {},
): BootstrapMetrics {
  const reps = opts.reps ?? 1000;
  const seed = opts.seed ?? 0;
  const alpha = opts.alpha ?? 0.05;
  if (!Number.isInteger(reps) || reps < 1) throw new OodgenError(`bootstrap reps must be a positive integer, got ${reps}`);
  if (!Number.isInteger(seed)) throw new OodgenError(`bootstrap seed must be an integer, got ${seed}`);
  if (!(alpha > 0 && alpha < 1)) throw new OodgenError(`bootstrap alpha must be in (0, 1), got ${alpha}`);

  const s = sortAndGroup(checkScores(idScores, 'ID'), checkScores(oodScores, 'OoD'));
  const { nId, nOod, order, start } = s;
  const n = nId + nOod;
  const g = s.values.length;
  // Group of each original sample, so that a draw's count lands in its group directly.
  const groupOf = new Int32Array(n);
  for (let j = 0; j < g; j++) for (let k = start[j]!; k < start[j + 1]!; k++) groupOf[order[k]!] = j;

  const rng = mulberry32(seed);
  const draws: Record<MetricName, Float64Array> = {
    AUROC: new Float64Array(reps),
    'AUPR-IN': new Float64Array(reps),
    'AUPR-OUT': new Float64Array(reps),
    FPR95TPR: new Float64Array(reps),
  };
  const idCount = new Float64Array(g);
  const oodCount = new Float64Array(g);
  for (let r = 0; r < reps; r++) {
    idCount.fill(0);
    oodCount.fill(0);
    for (let i = 0; i < nId; i++) idCount[groupOf[Math.floor(rng() * nId)]!]!++;
    for (let i = 0; i < nOod; i++) oodCount[groupOf[nId + Math.floor(rng() * nOod)]!]!++;
    const m = metricsFromGroups(idCount, oodCount);
    for (const name of METRIC_NAMES) draws[name][r] = m[name];
  }

  const point = metricsFromGroups(s.idCount, s.oodCount);
  const out = { nId, nOod, reps, seed, alpha } as BootstrapMetrics;
  if (opts.keepReplicates) {
    out.replicates = {} as Record<MetricName, Float64Array>;
    for (const name of METRIC_NAMES) out.replicates[name] = draws[name].slice();
  }
  for (const name of METRIC_NAMES) {
    const d = draws[name].sort();
    out[name] = { value: point[name], low: quantileSorted(d, alpha / 2), high: quantileSorted(d, 1 - alpha / 2) };
  }
  return out;
}
