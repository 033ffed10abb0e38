// nn-functional ops: layers, normalisation, losses, resampling.
import { Tensor } from '../tensor.js';
import { call } from '../dispatch.js';

type T = Tensor;
export type Reduction = 'none' | 'mean' | 'sum';
// at::Reduction::Reduction enum (ATen/core/Reduction.h).
const RED: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };
function red(r: Reduction | undefined): number {
  const v = RED[r ?? 'mean'];
  if (v === undefined) throw new Error(`reduction must be 'none', 'mean' or 'sum', got '${r}'`);
  return v;
}

export const linear = (x: T, w: T, b: T | null = null): T => call('aten::linear', x, w, b);

export interface ConvOptions { stride?: number | number[]; padding?: number | number[]; dilation?: number | number[]; groups?: number }
export const conv2d = (x: T, w: T, b: T | null = null, o: ConvOptions = {}): T =>
  call('aten::conv2d', x, w, b, o.stride ?? 1, o.padding ?? 0, o.dilation ?? 1, o.groups ?? 1);

export interface ConvTransposeOptions extends ConvOptions { outputPadding?: number | number[] }
export const convTranspose2d = (x: T, w: T, b: T | null = null, o: ConvTransposeOptions = {}): T =>
  call('aten::conv_transpose2d.input', x, w, b, o.stride ?? 1, o.padding ?? 0, o.outputPadding ?? 0, o.groups ?? 1, o.dilation ?? 1);

export interface BatchNormOptions { training: boolean; momentum?: number; eps?: number }
/**
 * Batch normalisation. In training mode the batch statistics normalise x and, when running statistics are
 * given, update them in place (running = (1 - momentum) * running + momentum * batch, unbiased variance).
 */
export const batchNorm = (x: T, runningMean: T | null, runningVar: T | null, weight: T | null, bias: T | null, o: BatchNormOptions): T =>
  call('aten::batch_norm', x, weight, bias, runningMean, runningVar, o.training, o.momentum ?? 0.1, o.eps ?? 1e-5, true);

export const dropout = (x: T, p: number, training: boolean): T => call('aten::dropout', x, p, training);

export interface LossOptions { reduction?: Reduction }
/** Cross-entropy of logits (class dim 1) against int64 class indices, e.g. (B,256,H,W) vs (B,H,W). */
export const crossEntropy = (logits: T, target: T, o: LossOptions & { labelSmoothing?: number } = {}): T =>
  call('aten::cross_entropy_loss', logits, target, null, red(o.reduction), -100, o.labelSmoothing ?? 0);
export const nllLoss = (logp: T, target: T, o: LossOptions = {}): T => call('aten::nll_loss_nd', logp, target, null, red(o.reduction), -100);
export const mseLoss = (a: T, b: T, o: LossOptions = {}): T => call('aten::mse_loss', a, b, red(o.reduction));
export const bceWithLogits = (logits: T, target: T, o: LossOptions = {}): T =>
  call('aten::binary_cross_entropy_with_logits', logits, target, null, null, red(o.reduction));

export interface InterpolateOptions { size: [number, number]; mode?: 'bilinear' | 'nearest'; alignCorners?: boolean }
export function interpolate(x: T, o: InterpolateOptions): T {
  if ((o.mode ?? 'bilinear') === 'nearest') return call('aten::upsample_nearest2d.vec', x, o.size, null);
  return call('aten::upsample_bilinear2d.vec', x, o.size, o.alignCorners ?? false, null);
}
export const avgPool2d = (x: T, kernel: number | number[], stride?: number | number[]): T =>
  call('aten::avg_pool2d', x, kernel, stride ?? kernel, 0, false, true, null);
