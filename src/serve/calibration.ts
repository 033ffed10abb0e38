// The gate's decision rule, fitted on in-distribution data and kept in the run folder.
//
// threshold: the TPR-quantile of the ID calibration scores, t = s_(ceil(TPR * n)) (sorted ascending), so that a
//   fraction TPR of the ID images score <= t and are let through (TPR = 0.95 is the operating point of FPR95);
//   an image is OoD when its score > t.
// p-value: the conformal p-value of a score s against the n ID scores (Vovk et al. 2005; Bates et al. 2023,
//   "Testing for outliers with conformal p-values"): p(s) = (1 + #{i : s_i >= s}) / (n + 1), the chance that an
//   ID image scores at least as high. It is valid (P(p <= a) <= a for ID inputs) whatever the score's distribution.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { OodgenError } from '../errors.js';
import { writeJsonAtomic } from '../train/run.js';

export const CalibrationSchema = z.object({
  format: z.literal('oodgen-calibration/1'),
  /** Scorer settings (detector, K or L, seed, BN mode); a calibration is only valid for the same ones. */
  settings: z.record(z.unknown()),
  /** sha256 of the weights file it was computed with. */
  weights: z.object({ file: z.string(), sha256: z.string() }),
  data: z.string(),
  tpr: z.number().gt(0).lte(1),
  threshold: z.number(),
  /** ID scores, sorted ascending. */
  scores: z.array(z.number()).min(1),
  createdAt: z.string(),
}).strict();

export type Calibration = z.infer<typeof CalibrationSchema>;

export const calibrationFile = (runDir: string, detector: string): string => join(runDir, `calibration-${detector}.json`);

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Threshold at `tpr`: the ceil(tpr * n)-th smallest score. */
export function thresholdAt(sorted: ArrayLike<number>, tpr: number): number {
  if (!(tpr > 0 && tpr <= 1)) throw new OodgenError(`--tpr must be in (0, 1], got ${tpr}`);
  const n = sorted.length;
  return sorted[Math.min(n, Math.max(1, Math.ceil(tpr * n))) - 1]!;
}

/** Conformal p-value (1 + #{s_i >= s}) / (n + 1) by binary search over the ascending scores. */
export function pValue(sorted: ArrayLike<number>, s: number): number {
  let lo = 0, hi = sorted.length; // first index with sorted[i] >= s
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < s) lo = mid + 1; else hi = mid;
  }
  return (1 + sorted.length - lo) / (sorted.length + 1);
}

export function makeCalibration(scores: Float32Array, o: { tpr: number; data: string; settings: Record<string, unknown>; weights: { file: string; sha256: string } }): Calibration {
  const bad = scores.reduce((a, v) => a + (Number.isFinite(v) ? 0 : 1), 0);
  if (bad > 0) throw new OodgenError(`calibration on ${o.data}: ${bad} of ${scores.length} scores are not finite; the model or data is broken`);
  if (scores.length < 2) throw new OodgenError(`calibration on ${o.data}: needs at least 2 images, got ${scores.length}`);
  const sorted = Array.from(scores).sort((a, b) => a - b);
  return {
    format: 'oodgen-calibration/1', settings: o.settings, weights: o.weights, data: o.data, tpr: o.tpr,
    threshold: thresholdAt(sorted, o.tpr), scores: sorted, createdAt: new Date().toISOString(),
  };
}

export function saveCalibration(path: string, c: Calibration): void {
  writeJsonAtomic(path, c);
}

/** Loads a calibration and checks it belongs to these weights and scorer settings. */
export function loadCalibration(path: string, expect: { settings: Record<string, unknown>; sha256: string }): Calibration {
  if (!existsSync(path)) throw new OodgenError(`${path}: no calibration for this detector; start the gate once with --calibrate DATA to compute it`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new OodgenError(`${path}: corrupt calibration: not valid JSON (${(e as Error).message})`);
  }
  const r = CalibrationSchema.safeParse(raw);
  if (!r.success) throw new OodgenError(`${path}: invalid calibration: ${r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const c = r.data;
  if (c.weights.sha256 !== expect.sha256) throw new OodgenError(`${path}: computed for other weights (${c.weights.file} has changed since); recalibrate with --calibrate DATA`);
  const a = JSON.stringify(c.settings), b = JSON.stringify(expect.settings);
  if (a !== b) throw new OodgenError(`${path}: computed with ${a}, the gate now uses ${b}; recalibrate with --calibrate DATA`);
  for (let i = 1; i < c.scores.length; i++) if (!(c.scores[i - 1]! <= c.scores[i]!)) throw new OodgenError(`${path}: scores are not sorted; the file was edited or is corrupt`);
  return c;
}

/** Equal-width histogram of the calibration scores, for the page. */
export function histogram(sorted: number[], bins = 30): { edges: number[]; counts: number[] } {
  const lo = sorted[0]!, hi = sorted[sorted.length - 1]!;
  const width = hi > lo ? (hi - lo) / bins : 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * width);
  const counts = new Array<number>(bins).fill(0);
  for (const s of sorted) counts[Math.min(bins - 1, Math.floor((s - lo) / width))]!++;
  return { edges, counts };
}
