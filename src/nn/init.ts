// Parameter initialisation matching torch.nn's defaults, so fresh oodgen and PyTorch modules are alike.
import type { Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { callInPlace } from '../engine/dispatch.js';
import type { Generator } from '../engine/random.js';

/** Fills t with U(-bound, bound). */
export function uniformInit(t: Tensor, bound: number, generator?: Generator): void {
  noGrad(() => callInPlace('aten::uniform_', t, -bound, bound, generator ? generator.handleFor(t.device) : null));
}

/**
 * torch.nn's default for Linear/Conv weights: kaiming_uniform_(a=sqrt(5)), which reduces to U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)); biases use the same bound.
 */
export const defaultBound = (fanIn: number): number => (fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0);
