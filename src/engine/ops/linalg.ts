// Linear algebra.
import { Tensor } from '../tensor.js';
import { call, callOp } from '../dispatch.js';

type T = Tensor;
export const matmul = (a: T, b: T): T => call('aten::matmul', a, b);
export const mm = (a: T, b: T): T => call('aten::mm', a, b);
export const bmm = (a: T, b: T): T => call('aten::bmm', a, b);
export const t = (x: T): T => call('aten::t', x);
export const outer = (a: T, b: T): T => call('aten::outer', a, b);
export const dot = (a: T, b: T): T => call('aten::dot', a, b);
/** log |det A| of square matrices (..., n, n) (the sign is dropped; flows need only the magnitude). */
export function logAbsDet(a: T): T {
  const [sign, logabs] = callOp('aten::linalg_slogdet', [a]) as [T, T];
  sign.dispose();
  return logabs;
}
export const inverse = (a: T): T => call('aten::linalg_inv', a);
/** A 1-D tensor as the diagonal of a square matrix. */
export const diag = (v: T): T => call('aten::diag', v, 0);
