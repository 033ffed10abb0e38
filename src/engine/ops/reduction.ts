// Reductions. `dim` may be a number, a list, or null/undefined for all dimensions.
import { Tensor } from '../tensor.js';
import { call, callOp } from '../dispatch.js';

type T = Tensor;
type Dims = number | number[] | null | undefined;
const dims = (d: Dims): number[] | null => (d === null || d === undefined ? null : typeof d === 'number' ? [d] : d);

export const sum = (x: T, dim?: Dims, keepdim = false): T =>
  dims(dim) === null && !keepdim ? call('aten::sum', x, null) : call('aten::sum.dim_IntList', x, dims(dim) ?? allDims(x), keepdim, null);
export const mean = (x: T, dim?: Dims, keepdim = false): T =>
  dims(dim) === null && !keepdim ? call('aten::mean', x, null) : call('aten::mean.dim', x, dims(dim) ?? allDims(x), keepdim, null);
export const logsumexp = (x: T, dim: number | number[], keepdim = false): T => call('aten::logsumexp', x, dims(dim), keepdim);
export const std = (x: T, dim?: Dims, keepdim = false, unbiased = true): T => call('aten::std.dim', x, dims(dim), unbiased, keepdim);
export const variance = (x: T, dim?: Dims, keepdim = false, unbiased = true): T => call('aten::var.dim', x, dims(dim), unbiased, keepdim);
/** The 2-norm of all elements. */
export const norm = (x: T, p = 2): T => call('aten::norm.Scalar', x, p);
export const prod = (x: T): T => call('aten::prod', x, null);

function pick(r: unknown, which: 0 | 1): T {
  const [values, indices] = r as [T, T];
  (which === 0 ? indices : values).dispose();
  return which === 0 ? values : indices;
}
/** Max over all elements, or the values along a dimension. */
export function max(x: T, dim?: number, keepdim = false): T {
  return dim === undefined ? call('aten::max', x) : pick(callOp('aten::max.dim', [x, dim, keepdim]), 0);
}
export function min(x: T, dim?: number, keepdim = false): T {
  return dim === undefined ? call('aten::min', x) : pick(callOp('aten::min.dim', [x, dim, keepdim]), 0);
}
export const argmax = (x: T, dim?: number, keepdim = false): T => call('aten::argmax', x, dim ?? null, keepdim);
export const argmin = (x: T, dim?: number, keepdim = false): T => call('aten::argmin', x, dim ?? null, keepdim);
/** Sorted values and int64 indices along dim. */
export function sort(x: T, dim = -1, descending = false): { values: T; indices: T } {
  const [values, indices] = callOp('aten::sort', [x, dim, descending]) as [T, T];
  return { values, indices };
}
export function topk(x: T, k: number, dim = -1, largest = true): { values: T; indices: T } {
  const [values, indices] = callOp('aten::topk', [x, k, dim, largest, true]) as [T, T];
  return { values, indices };
}
export const any = (x: T): T => call('aten::any', x);
export const all = (x: T): T => call('aten::all', x);

function allDims(x: T): number[] {
  return x.shape.map((_, i) => i);
}
