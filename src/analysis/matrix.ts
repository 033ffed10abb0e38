// Shared helpers of the latent-semantics analysis: input validation and a seeded RNG.
// Data convention everywhere in src/analysis: a row-major n x d Float32Array (Float64Array is
// accepted too), with n and d passed alongside, one sample per row.
import { OodgenError } from '../errors.js';

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

/** Mulberry32: a small, fast, seedable 32-bit PRNG returning floats in [0, 1). Deterministic per seed. */
export function mulberry32(seed: number): () => number {
  let a = (seed >>> 0) ^ 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sampler (Box-Muller) over a uniform source. */
export function gaussian(rand: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    let u = 0;
    while (u === 0) u = rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** In-place Fisher-Yates shuffle of the first `len` entries. */
export function shuffle(a: Int32Array | number[], rand: () => number, len = a.length): void {
  for (let i = len - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i]; a[i] = a[j]; a[j] = t;
  }
}

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
