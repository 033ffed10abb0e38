// Parameterised layers: Linear, Conv2d, ConvTranspose2d (weights laid out as in torch.nn).
import { Module } from './module.js';
import type { Tensor } from '../engine/tensor.js';
import { empty } from './empty.js';
import { defaultBound, uniformInit } from './init.js';
import { conv2d, convTranspose2d, linear } from '../engine/ops/index.js';
import type { Generator } from '../engine/random.js';

export interface InitOptions { generator?: Generator; bias?: boolean }

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, o: InitOptions = {}) {
    super();
    const bound = defaultBound(inFeatures);
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures]));
    uniformInit(this.weight, bound, o.generator);
    this.bias = o.bias === false ? null : this.registerParameter('bias', empty([outFeatures]));
    if (this.bias) uniformInit(this.bias, bound, o.generator);
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export interface Conv2dOptions extends InitOptions { stride?: number; padding?: number; dilation?: number; groups?: number }

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, readonly opts: Conv2dOptions = {}) {
    super();
    const groups = opts.groups ?? 1;
    const bound = defaultBound((inChannels / groups) * kernelSize * kernelSize);
    this.weight = this.registerParameter('weight', empty([outChannels, inChannels / groups, kernelSize, kernelSize]));
    uniformInit(this.weight, bound, opts.generator);
    this.bias = opts.bias === false ? null : this.registerParameter('bias', empty([outChannels]));
    if (this.bias) uniformInit(this.bias, bound, opts.generator);
  }
  forward(x: Tensor): Tensor {
    const o = this.opts;
    return conv2d(x, this.weight, this.bias, { stride: o.stride ?? 1, padding: o.padding ?? 0, dilation: o.dilation ?? 1, groups: o.groups ?? 1 });
  }
}

export interface ConvTranspose2dOptions extends Conv2dOptions { outputPadding?: number }

export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, readonly opts: ConvTranspose2dOptions = {}) {
    super();
    const groups = opts.groups ?? 1;
    // torch computes fan_in from weight.size(1) * k * k, i.e. the output channels per group.
    const bound = defaultBound((outChannels / groups) * kernelSize * kernelSize);
    this.weight = this.registerParameter('weight', empty([inChannels, outChannels / groups, kernelSize, kernelSize]));
    uniformInit(this.weight, bound, opts.generator);
    this.bias = opts.bias === false ? null : this.registerParameter('bias', empty([outChannels]));
    if (this.bias) uniformInit(this.bias, bound, opts.generator);
  }
  forward(x: Tensor): Tensor {
    const o = this.opts;
    return convTranspose2d(x, this.weight, this.bias, {
      stride: o.stride ?? 1, padding: o.padding ?? 0, outputPadding: o.outputPadding ?? 0, groups: o.groups ?? 1, dilation: o.dilation ?? 1,
    });
  }
}
