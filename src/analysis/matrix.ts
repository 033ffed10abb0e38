// Shared helpers of the latent-semantics analysis: input validation and a seeded RNG.
// Data convention everywhere in src/analysis: a row-major n x d Float32Array (Float64Array is
// accepted too), with n and d passed alongside, one sample per row.
import { OodgenError } from '../errors.js';

import { GOLDEN, mulberry32 as baseMulberry32, normalFrom, shuffle } from '../data/rng.js';

export type Matrix = Float32Array | Float64Array;

/** Throws OodgenError unless X is a finite n x d row-major matrix with n >= minRows. */
export function checkMatrix(X: unknown, n: number, d: number, name: string, minRows = 1): asserts X is Matrix {
  if (!(X instanceof Float32Array) && !(X instanceof Float64Array)) {
    throw new OodgenError(`${name}: expected a Float32Array or Float64Array, got ${describe(X)}`);
  }
  if (!Number.isInteger(n) || n < 0) throw new OodgenError(`${name}: row count n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(d) || d < 1) throw new OodgenError(`${name}: dimension d must be a positive integer, got ${d}`);
  if (X.length !== n * d) {
    throw new OodgenError(`${name}: length ${X.length} does not equal n*d = ${n}*${d} = ${n * d}`);
  }
  if (n < minRows) throw new OodgenError(`${name}: needs at least ${minRows} row(s), got ${n}`);
  for (let k = 0; k < X.length; k++) {
    if (!Number.isFinite(X[k])) {
      throw new OodgenError(`${name}: non-finite value ${X[k]} at row ${Math.floor(k / d)}, column ${k % d}`);
    }
  }
}

/** Row count of a matrix whose width is d; throws if the length is not a multiple of d. */
export function rowsOf(X: Matrix, d: number, name: string): number {
  if (!Number.isInteger(d) || d < 1) throw new OodgenError(`${name}: dimension d must be a positive integer, got ${d}`);
  if (X.length % d !== 0) throw new OodgenError(`${name}: length ${X.length} is not a multiple of d = ${d}`);
  return X.length / d;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'object';
  return typeof x;
}

/** The analysis's uniform source: data/rng.ts mulberry32 with the GOLDEN salt (its documented stream). */
export const mulberry32 = (seed: number): (() => number) => baseMulberry32(seed, GOLDEN);

/** Standard normal sampler (Box-Muller) over a uniform source. */
export const gaussian = normalFrom;

export { shuffle };

/** Rows `idx` of X (width d) gathered into a new Float32Array. */
export function takeRows(X: Matrix, d: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * d);
  for (let r = 0; r < idx.length; r++) out.set(X.subarray(idx[r] * d, idx[r] * d + d), r * d);
  return out;
}

/** Vertical concatenation of row-major matrices of the same width. */
export function vstack(parts: Matrix[]): Float32Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Float32Array(len);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
