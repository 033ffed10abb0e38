// BatchNorm1d/2d with PyTorch's parameter and buffer names (weight, bias, running_mean, running_var,
// num_batches_tracked), plus a switch the OoD scorers use: normalise with batch statistics without touching the
// running statistics (Chen 2021, section 3.3.5: BN statistics change what likelihood a model assigns).
import { Module } from './module.js';
import type { Tensor } from '../engine/tensor.js';
import { batchNorm, ones, zeros, scalar } from '../engine/ops/index.js';
import { noGrad } from '../engine/autograd.js';
import { addInPlace } from '../engine/ops/inplace.js';

export type BatchStatsMode = 'auto' | 'batch' | 'running';

export interface BatchNormOptions { eps?: number; momentum?: number; affine?: boolean }

abstract class BatchNormBase extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;
  readonly eps: number;
  readonly momentum: number;
  /**
   * 'auto': batch statistics in training (updating the running ones), running statistics in eval.
   * 'batch': always batch statistics, never updating the running ones. 'running': always running statistics.
   */
  statsMode: BatchStatsMode = 'auto';

  constructor(readonly numFeatures: number, o: BatchNormOptions = {}) {
    super();
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    const affine = o.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', ones([numFeatures])) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures])) : null;
    this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', ones([numFeatures]));
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', scalar(0, { dtype: 'int64' }));
  }

  protected abstract checkInput(x: Tensor): void;

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const mode = this.statsMode === 'auto' ? (this.training ? 'update' : 'running') : this.statsMode;
    if (mode === 'update') {
      noGrad(() => addInPlace(this.numBatchesTracked, 1));
      return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, { training: true, momentum: this.momentum, eps: this.eps });
    }
    if (mode === 'batch') {
      return batchNorm(x, null, null, this.weight, this.bias, { training: true, momentum: this.momentum, eps: this.eps });
    }
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, { training: false, momentum: this.momentum, eps: this.eps });
  }
}

export class BatchNorm2d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    const s = x.shape;
    if (s.length !== 4 || s[1] !== this.numFeatures) {
      throw new Error(`BatchNorm2d(${this.numFeatures}): expected input (N, ${this.numFeatures}, H, W), got [${s.join(', ')}]`);
    }
  }
}

export class BatchNorm1d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    const s = x.shape;
    if ((s.length !== 2 && s.length !== 3) || s[1] !== this.numFeatures) {
      throw new Error(`BatchNorm1d(${this.numFeatures}): expected input (N, ${this.numFeatures}) or (N, ${this.numFeatures}, L), got [${s.join(', ')}]`);
    }
  }
}

export type AnyBatchNorm = BatchNorm1d | BatchNorm2d;

/** Every BatchNorm layer inside a module, in module order (the one BatchNorm walker: BN modes, BN adaptation). */
export function batchNormsIn(m: Module): AnyBatchNorm[] {
  return m.namedModules().map(([, s]) => s).filter((s): s is AnyBatchNorm => s instanceof BatchNorm2d || s instanceof BatchNorm1d);
}

/** Sets the statistics mode of every BatchNorm inside a module; returns how many it changed. */
export function setBatchStatsMode(m: Module, mode: BatchStatsMode): number {
  const all = batchNormsIn(m);
  for (const b of all) b.statsMode = mode;
  return all.length;
}
