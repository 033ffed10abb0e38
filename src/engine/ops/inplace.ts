// In-place and multi-tensor ("foreach") ops, for optimizers and buffer updates. Callers run them under noGrad.
import { Tensor } from '../tensor.js';
import { callInPlace, callOp } from '../dispatch.js';

type T = Tensor;
export const copy_ = (dst: T, src: T): void => callInPlace('aten::copy_', dst, src, false);
export const zero_ = (x: T): void => callInPlace('aten::zero_', x);
export const fill_ = (x: T, v: number): void => callInPlace('aten::fill_.Scalar', x, v);
export const addInPlace = (x: T, other: T | number, alpha = 1): void =>
  other instanceof Tensor ? callInPlace('aten::add_.Tensor', x, other, alpha) : callInPlace('aten::add_.Scalar', x, other, alpha);
export const mulInPlace = (x: T, other: T | number): void =>
  other instanceof Tensor ? callInPlace('aten::mul_.Tensor', x, other) : callInPlace('aten::mul_.Scalar', x, other);
export const normal_ = (x: T, mean = 0, std = 1): void => callInPlace('aten::normal_', x, mean, std, null);
export const uniform_ = (x: T, from = 0, to = 1): void => callInPlace('aten::uniform_', x, from, to, null);

// Multi-tensor forms: one dispatcher call for a whole parameter list (what torch.optim's foreach path uses).
export const foreachMul_ = (xs: T[], s: number): void => callInPlace('aten::_foreach_mul_.Scalar', xs, s);
export const foreachAdd_ = (xs: T[], ys: T[], alpha = 1): void => callInPlace('aten::_foreach_add_.List', xs, ys, alpha);
export const foreachAddScalar_ = (xs: T[], s: number): void => callInPlace('aten::_foreach_add_.Scalar', xs, s);
export const foreachAddcmul_ = (xs: T[], a: T[], b: T[], value: number): void => callInPlace('aten::_foreach_addcmul_.Scalar', xs, a, b, value);
export const foreachAddcdiv_ = (xs: T[], a: T[], b: T[], value: number): void => callInPlace('aten::_foreach_addcdiv_.Scalar', xs, a, b, value);
export const foreachDiv_ = (xs: T[], s: number): void => callInPlace('aten::_foreach_div_.Scalar', xs, s);
export const foreachSqrt = (xs: T[]): T[] => callOp('aten::_foreach_sqrt', [xs]) as T[];
export const foreachAdd = (xs: T[], ys: T[], alpha = 1): T[] => callOp('aten::_foreach_add.List', [xs, ys, alpha]) as T[];
export const foreachAddScalar = (xs: T[], s: number): T[] => callOp('aten::_foreach_add.Scalar', [xs, s]) as T[];
export const foreachZero_ = (xs: T[]): void => callInPlace('aten::_foreach_zero_', xs);
