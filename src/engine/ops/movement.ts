// Shape, movement, indexing and conversion ops.
import { Tensor } from '../tensor.js';
import { call, callOp } from '../dispatch.js';
import { dtypeCode, type DType } from '../dtype.js';

type T = Tensor;

export const reshape = (x: T, shape: number[]): T => call('aten::reshape', x, shape);
export const view = (x: T, shape: number[]): T => call('aten::view', x, shape);
export const flatten = (x: T, start = 0, end = -1): T => call('aten::flatten.using_ints', x, start, end);
/** Splits dimension `dim` into `sizes` (done by reshape so it works on every libtorch release). */
export function unflatten(x: T, dim: number, sizes: number[]): T {
  const s = x.shape;
  const d = dim < 0 ? s.length + dim : dim;
  return call('aten::reshape', x, [...s.slice(0, d), ...sizes, ...s.slice(d + 1)]);
}
export const permute = (x: T, dims: number[]): T => call('aten::permute', x, dims);
export const transpose = (x: T, d0: number, d1: number): T => call('aten::transpose.int', x, d0, d1);
export const squeeze = (x: T, dim: number): T => call('aten::squeeze.dim', x, dim);
export const unsqueeze = (x: T, dim: number): T => call('aten::unsqueeze', x, dim);
export const expand = (x: T, shape: number[]): T => call('aten::expand', x, shape, false);
export const repeat = (x: T, reps: number[]): T => call('aten::repeat', x, reps);
export const flip = (x: T, dims: number[]): T => call('aten::flip', x, dims);
export const cat = (ts: T[], dim = 0): T => call('aten::cat', ts, dim);
export const stack = (ts: T[], dim = 0): T => call('aten::stack', ts, dim);
export const narrow = (x: T, dim: number, start: number, length: number): T => call('aten::narrow', x, dim, start, length);
export const slice = (x: T, dim: number, start: number | null, end: number | null, step = 1): T => call('aten::slice.Tensor', x, dim, start, end, step);
export const select = (x: T, dim: number, index: number): T => call('aten::select.int', x, dim, index);
export const indexSelect = (x: T, dim: number, index: T): T => call('aten::index_select', x, dim, index);
export const gather = (x: T, dim: number, index: T): T => call('aten::gather', x, dim, index, false);
/** x[mask] for a boolean mask of x's shape (1-D result). */
export const maskedSelect = (x: T, mask: T): T => call('aten::masked_select', x, mask);
/** All chunks along dim. */
export const chunkAll = (x: T, n: number, dim = 0): T[] => callOp('aten::chunk', [x, n, dim]) as T[];
/** The first of n chunks (the fixture-friendly form; see chunkAll). */
export function chunk(x: T, n: number, dim = 0): T {
  const parts = chunkAll(x, n, dim);
  for (let i = 1; i < parts.length; i++) parts[i].dispose();
  return parts[0];
}
export const split = (x: T, size: number, dim = 0): T[] => callOp('aten::split.Tensor', [x, size, dim]) as T[];
export const contiguous = (x: T): T => call('aten::contiguous', x, 0);
export const clone = (x: T): T => call('aten::clone', x, null);
export const detach = (x: T): T => call('aten::detach', x);
export const toDtype = (x: T, d: DType): T => call('aten::to.dtype', x, dtypeCode(d), false, false, null);
export const toDevice = (x: T, device: string): T => call('aten::to.device', x, device, dtypeCode(x.dtype), false, false, null);
