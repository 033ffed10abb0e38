// Activation functions.
import { Tensor } from '../tensor.js';
import { call } from '../dispatch.js';

type T = Tensor;
export const relu = (x: T): T => call('aten::relu', x);
export const leakyRelu = (x: T, slope = 0.01): T => call('aten::leaky_relu', x, slope);
export const sigmoid = (x: T): T => call('aten::sigmoid', x);
export const tanh = (x: T): T => call('aten::tanh', x);
export const softplus = (x: T, beta = 1, threshold = 20): T => call('aten::softplus', x, beta, threshold);
export const logSigmoid = (x: T): T => call('aten::log_sigmoid', x);
export const elu = (x: T, alpha = 1): T => call('aten::elu', x, alpha, 1, 1);
export const gelu = (x: T): T => call('aten::gelu', x);
export const softmax = (x: T, dim: number): T => call('aten::softmax.int', x, dim, null);
export const logSoftmax = (x: T, dim: number): T => call('aten::log_softmax.int', x, dim, null);
