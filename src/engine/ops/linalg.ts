// Linear algebra.
import { Tensor } from '../tensor.js';
import { call } from '../dispatch.js';

type T = Tensor;
export const matmul = (a: T, b: T): T => call('aten::matmul', a, b);
export const mm = (a: T, b: T): T => call('aten::mm', a, b);
export const bmm = (a: T, b: T): T => call('aten::bmm', a, b);
export const t = (x: T): T => call('aten::t', x);
export const outer = (a: T, b: T): T => call('aten::outer', a, b);
export const dot = (a: T, b: T): T => call('aten::dot', a, b);
