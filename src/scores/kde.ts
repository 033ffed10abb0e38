// One-dimensional Gaussian kernel density estimates, the second stage of DoSE (dose.ts).
//
//   p^(x) = 1/n sum_i N(x; x_i, h^2),   h = sigma^ * n^(-1/5)   (Scott's rule in one dimension, sigma^ the sample
//   standard deviation with ddof 1) -- exactly scipy.stats.gaussian_kde's default for 1-D data, the test's oracle.
// log p^ is computed with a log-sum-exp, so far-out points get a finite (very negative) log-density, not -inf.
import { OodgenError } from '../errors.js';

export interface Kde1d {
  /** The fitted values, ascending. */
  points: number[];
  bandwidth: number;
}

export function fitKde1d(values: ArrayLike<number>, what = 'KDE'): Kde1d {
  const n = values.length;
  if (n < 2) throw new OodgenError(`${what}: needs at least 2 values to fit, got ${n}`);
  const pts = Array.from(values, Number);
  if (pts.some((v) => !Number.isFinite(v))) throw new OodgenError(`${what}: a fitted value is not finite`);
  const mean = pts.reduce((a, v) => a + v, 0) / n;
  const sd = Math.sqrt(pts.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  if (!(sd > 0)) throw new OodgenError(`${what}: all ${n} fitted values are equal (${mean}); a density needs spread`);
  return { points: pts.sort((a, b) => a - b), bandwidth: sd * n ** -0.2 };
}

export function kdeLogDensity(k: Kde1d, x: number): number {
  const h = k.bandwidth, n = k.points.length;
  let max = -Infinity;
  for (const p of k.points) max = Math.max(max, -0.5 * ((x - p) / h) ** 2);
  let s = 0;
  for (const p of k.points) s += Math.exp(-0.5 * ((x - p) / h) ** 2 - max);
  return max + Math.log(s) - Math.log(n) - Math.log(h) - 0.5 * Math.log(2 * Math.PI);
}
