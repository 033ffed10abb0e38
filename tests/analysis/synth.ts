// Synthetic latent codes for the analysis tests (seeded).
import { gaussian, mulberry32 } from '../../src/analysis/matrix.js';

/** n x d Gaussian codes N(shift * e, scale^2 I), e = the all-ones direction over sqrt(d). */
export function blob(n: number, d: number, seed: number, shift = 0, scale = 1): Float32Array {
  const g = gaussian(mulberry32(seed));
  const X = new Float32Array(n * d);
  const s = shift / Math.sqrt(d);
  for (let k = 0; k < X.length; k++) X[k] = g() * scale + s;
  return X;
}

/**
 * Separable by construction: ID has coordinate 0 >= +margin, OoD has coordinate 0 <= -margin, all
 * other coordinates identical N(0, 1) noise. The max-margin hyperplane is x_0 = 0.
 */
export function separable(n: number, d: number, seed: number, side: 1 | -1, margin = 1): Float32Array {
  const rand = mulberry32(seed);
  const g = gaussian(rand);
  const X = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) X[i * d + j] = g();
    X[i * d] = side * (margin + 2 * rand());
  }
  return X;
}
