// Pure helpers for the "move along the normal" figures (Chen 2021, Sec. 3): codes z + t n with n the
// SVM's unit normal (pointing to the ID side), the t at which a code crosses the hyperplane, and the
// hardest samples on each side. Decoding the codes is the caller's job (it needs the engine).
import { OodgenError } from '../errors.js';
import type { LinearSvm } from './svm.js';

type Vec = ArrayLike<number>;

function checkVec(v: Vec, name: string): void {
  for (let j = 0; j < v.length; j++) if (!Number.isFinite(v[j])) throw new OodgenError(`${name}: non-finite value ${v[j]} at ${j}`);
}

/**
 * Codes z + t * normal for each t in ts, as a ts.length x d row-major Float32Array. `normal` is used
 * as given; pass svm.normal() (unit length) so that t is a geometric distance.
 */
export function pathAlongNormal(z: Vec, normal: Vec, ts: number[]): Float32Array {
  const d = z.length;
  if (d === 0) throw new OodgenError('pathAlongNormal: empty code z');
  if (normal.length !== d) throw new OodgenError(`pathAlongNormal: normal has length ${normal.length}, code has ${d}`);
  checkVec(z, 'pathAlongNormal: z');
  checkVec(normal, 'pathAlongNormal: normal');
  checkVec(ts, 'pathAlongNormal: ts');
  const out = new Float32Array(ts.length * d);
  ts.forEach((t, r) => { for (let j = 0; j < d; j++) out[r * d + j] = z[j] + t * normal[j]; });
  return out;
}

/**
 * The t with w^T (z + t w/|w|) + b = 0: the signed distance to travel along the unit normal to reach
 * the boundary, i.e. -decision(z). Positive for codes on the OoD side (they must move towards ID).
 */
export function crossingT(z: Vec, svm: Pick<LinearSvm, 'w' | 'b'>): number {
  const d = svm.w.length;
  if (z.length !== d) throw new OodgenError(`crossingT: code has length ${z.length}, SVM has d = ${d}`);
  checkVec(z, 'crossingT: z');
  let m = svm.b, nrm = 0;
  for (let j = 0; j < d; j++) { m += svm.w[j] * z[j]; nrm += svm.w[j] * svm.w[j]; }
  if (!(nrm > 0)) throw new OodgenError('crossingT: |w| = 0, the SVM has no boundary');
  return -m / Math.sqrt(nrm);
}

/**
 * Evenly spaced ts from 0 through the crossing point to `overshoot` times the crossing distance
 * (default 2: as far past the boundary as the code started before it), for interpolation strips.
 */
export function stripTs(z: Vec, svm: Pick<LinearSvm, 'w' | 'b'>, steps = 8, overshoot = 2): number[] {
  if (!Number.isInteger(steps) || steps < 2) throw new OodgenError(`stripTs: steps must be an integer >= 2, got ${steps}`);
  const tc = crossingT(z, svm);
  return Array.from({ length: steps }, (_, k) => (tc * overshoot * k) / (steps - 1));
}

export interface HardSample {
  /** Index into the distances array. */
  index: number;
  distance: number;
}

/**
 * The k hardest samples of one set, by signed distance d (positive = ID side):
 * side 'id'  - distances of ID samples; hardest = smallest d (misclassified deepest first, then
 *              those closest to the boundary);
 * side 'ood' - distances of OoD samples; hardest = largest d.
 * Ties are broken by index, so the result is deterministic.
 */
export function hardestSamples(distances: ArrayLike<number>, k: number, side: 'id' | 'ood'): HardSample[] {
  if (side !== 'id' && side !== 'ood') throw new OodgenError(`hardestSamples: side must be 'id' or 'ood', got '${String(side)}'`);
  if (!Number.isInteger(k) || k < 0) throw new OodgenError(`hardestSamples: k must be a non-negative integer, got ${k}`);
  checkVec(distances, 'hardestSamples: distances');
  const idx = Array.from({ length: distances.length }, (_, i) => i);
  const sgn = side === 'id' ? 1 : -1;
  idx.sort((a, b) => sgn * (distances[a] - distances[b]) || a - b);
  return idx.slice(0, k).map((i) => ({ index: i, distance: distances[i] }));
}
