// Elementwise arithmetic and comparisons (broadcasting as in torch).
import { Tensor } from '../tensor.js';
import { call } from '../dispatch.js';

type T = Tensor;
type S = Tensor | number;

const bin = (tensorOp: string, scalarOp: string) => (a: T, b: S): T =>
  b instanceof Tensor ? call(tensorOp, a, b) : call(scalarOp, a, b);

export const add = (a: T, b: S, alpha = 1): T => (b instanceof Tensor ? call('aten::add.Tensor', a, b, alpha) : call('aten::add.Scalar', a, b, alpha));
export const sub = (a: T, b: S, alpha = 1): T => (b instanceof Tensor ? call('aten::sub.Tensor', a, b, alpha) : call('aten::sub.Scalar', a, b, alpha));
/** s - a for a number s. */
export const rsub = (a: T, s: number): T => call('aten::rsub.Scalar', a, s, 1);
export const mul = bin('aten::mul.Tensor', 'aten::mul.Scalar');
export const div = bin('aten::div.Tensor', 'aten::div.Scalar');
export const neg = (x: T): T => call('aten::neg', x);
export const exp = (x: T): T => call('aten::exp', x);
export const expm1 = (x: T): T => call('aten::expm1', x);
export const log = (x: T): T => call('aten::log', x);
export const log1p = (x: T): T => call('aten::log1p', x);
export const log2 = (x: T): T => call('aten::log2', x);
export const sqrt = (x: T): T => call('aten::sqrt', x);
export const rsqrt = (x: T): T => call('aten::rsqrt', x);
export const square = (x: T): T => call('aten::mul.Tensor', x, x);
export const reciprocal = (x: T): T => call('aten::reciprocal', x);
export const pow = (x: T, e: S): T => (e instanceof Tensor ? call('aten::pow.Tensor_Tensor', x, e) : call('aten::pow.Tensor_Scalar', x, e));
export const abs = (x: T): T => call('aten::abs', x);
export const sign = (x: T): T => call('aten::sign', x);
export const floor = (x: T): T => call('aten::floor', x);
export const round = (x: T): T => call('aten::round', x);
export const sin = (x: T): T => call('aten::sin', x);
export const cos = (x: T): T => call('aten::cos', x);
export const erf = (x: T): T => call('aten::erf', x);
export const logNdtr = (x: T): T => call('aten::special_log_ndtr', x);
export const lgamma = (x: T): T => call('aten::lgamma', x);
export const clamp = (x: T, min: number | null, max: number | null = null): T => call('aten::clamp', x, min, max);
export const maximum = (a: T, b: T): T => call('aten::maximum', a, b);
export const minimum = (a: T, b: T): T => call('aten::minimum', a, b);
/** cond ? a : b, elementwise. */
export const where = (cond: T, a: T, b: T): T => call('aten::where.self', cond, a, b);
export const isnan = (x: T): T => call('aten::isnan', x);
export const isfinite = (x: T): T => call('aten::isfinite', x);
export const eq = bin('aten::eq.Tensor', 'aten::eq.Scalar');
export const ne = bin('aten::ne.Tensor', 'aten::ne.Scalar');
export const gt = bin('aten::gt.Tensor', 'aten::gt.Scalar');
export const ge = bin('aten::ge.Tensor', 'aten::ge.Scalar');
export const lt = bin('aten::lt.Tensor', 'aten::lt.Scalar');
export const le = bin('aten::le.Tensor', 'aten::le.Scalar');
/** a + t * (b - a). */
export const lerp = (a: T, b: T, t: number): T => call('aten::lerp.Scalar', a, b, t);
