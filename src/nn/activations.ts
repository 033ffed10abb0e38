// Parameter-free layers. They still take a Sequential index, as in PyTorch, so state_dict names line up.
import { Module } from './module.js';
import type { Tensor } from '../engine/tensor.js';
import { flatten, leakyRelu, relu, sigmoid, softplus, tanh, unflatten } from '../engine/ops/index.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor { return relu(x); }
}
export class LeakyReLU extends Module {
  constructor(readonly slope = 0.01) { super(); }
  forward(x: Tensor): Tensor { return leakyRelu(x, this.slope); }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return sigmoid(x); }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return tanh(x); }
}
export class Softplus extends Module {
  forward(x: Tensor): Tensor { return softplus(x); }
}
export class Identity extends Module {
  forward(x: Tensor): Tensor { return x; }
}
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) { super(); }
  forward(x: Tensor): Tensor { return flatten(x, this.startDim, this.endDim); }
}
export class Unflatten extends Module {
  constructor(readonly dim: number, readonly sizes: number[]) { super(); }
  forward(x: Tensor): Tensor { return unflatten(x, this.dim, this.sizes); }
}
