// COPOD, copula-based outlier detection (Li, Zhao, Botta, Ionescu & Hu, ICDM 2020, "COPOD: Copula-Based Outlier
// Detection", Algorithm 1). Parameter-free: each dimension's empirical CDF stands in for the marginal, and a point
// is an outlier when it sits in a tail of many marginals at once.
//
//   F_j(x) = (#{train_j <= x_j} + 1) / (n + 1)        left-tail ECDF, the point counted with the training data
//   G_j(x) = (#{train_j >= x_j} + 1) / (n + 1)        right-tail ECDF (the ECDF of -X)
//   U_l = -sum_j log F_j,  U_r = -sum_j log G_j,  U_s = -sum_j log (F_j if skew_j < 0 else G_j)
//   O(x) = max(U_l, U_r, U_s)                          (higher = more outlying)
//
// skew_j is the sample skewness (biased, m3 / m2^1.5, as scipy.stats.skew) of dimension j over the training data
// plus the point. Scoring a point "as if appended to the training set" is what pyod's COPOD.decision_function
// does for one point at a time, so a score does not depend on the other points scored with it. Note: pyod >= 0.9
// aggregates differently (per dimension max(U_s, (U_l + U_r)/2), then sums); oodgen follows the paper.
import { OodgenError } from '../errors.js';

export interface CopodState {
  d: number;
  n: number;
  /** Each dimension's training values, sorted ascending (d arrays of n). */
  sorted: number[][];
}

export function fitCopod(X: ArrayLike<number>, n: number, d: number): CopodState {
  if (n < 2) throw new OodgenError(`COPOD: needs at least 2 training rows, got ${n}`);
  if (X.length !== n * d) throw new OodgenError(`COPOD: ${X.length} values do not match ${n} x ${d}`);
  const sorted: number[][] = [];
  for (let j = 0; j < d; j++) {
    const col = Array.from({ length: n }, (_, i) => X[i * d + j]!);
    if (col.some((v) => !Number.isFinite(v))) throw new OodgenError(`COPOD: training column ${j} has a non-finite value`);
    sorted.push(col.sort((a, b) => a - b));
  }
  return { d, n, sorted };
}

/** #{v <= x} in an ascending array (upper bound). */
function countLE(a: number[], x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1; else hi = mid;
  }
  return lo;
}
/** #{v < x} (lower bound). */
function countLT(a: number[], x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** Each training column's mean c and central power sums A2 = sum (v - c)^2, A3 = sum (v - c)^3. */
interface Moments { c: number; a2: number; a3: number }

export function scoreCopod(s: CopodState, Q: ArrayLike<number>, m: number): Float64Array {
  const { d, n } = s;
  if (Q.length !== m * d) throw new OodgenError(`COPOD: ${Q.length} values do not match ${m} x ${d}`);
  // Power sums of each training column, for the skewness with the point added.
  const mom: Moments[] = s.sorted.map((col) => {
    const c = col.reduce((a, v) => a + v, 0) / col.length;
    let a2 = 0, a3 = 0;
    for (const v of col) { const e = v - c; a2 += e * e; a3 += e * e * e; }
    return { c, a2, a3 };
  });
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let ul = 0, ur = 0, us = 0;
    for (let j = 0; j < d; j++) {
      const x = Q[i * d + j]!;
      const col = s.sorted[j]!;
      const lf = -Math.log((countLE(col, x) + 1) / (n + 1));
      const rf = -Math.log((n - countLT(col, x) + 1) / (n + 1));
      ul += lf;
      ur += rf;
      us += skewness(mom[j]!, x, n + 1) < 0 ? lf : rf;
    }
    out[i] = Math.max(ul, ur, us);
  }
  return out;
}

/** Biased sample skewness m3 / m2^1.5 of a training column plus the value x (N values), about the training mean. */
function skewness(m: Moments, x: number, N: number): number {
  const y = x - m.c;
  const mean = y / N; // the training deviations sum to 0
  const e2 = (m.a2 + y * y) / N, e3 = (m.a3 + y * y * y) / N;
  const m2 = e2 - mean * mean;
  const m3 = e3 - 3 * mean * e2 + 2 * mean ** 3;
  return m2 > 0 ? m3 / m2 ** 1.5 : 0;
}
