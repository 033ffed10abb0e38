// SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD semantics).
import { Optimizer } from './optimizer.js';
import type { Tensor } from '../engine/tensor.js';
import { tidy } from '../engine/scope.js';
import { noGrad } from '../engine/autograd.js';
import { foreachAdd, foreachAdd_, foreachMul_ } from '../engine/ops/inplace.js';
import { copy_ } from '../engine/ops/index.js';

export interface SgdOptions { lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number }

export class SGD extends Optimizer {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  private started = false;

  constructor(params: Tensor[], o: SgdOptions) {
    super(params, ['momentum_buffer']);
    this.lr = o.lr;
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.nesterov = o.nesterov ?? false;
    this.weightDecay = o.weightDecay ?? 0;
    if (!(this.lr > 0)) throw new Error(`SGD: lr must be > 0, got ${o.lr}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new Error('SGD: Nesterov needs momentum > 0 and dampening 0');
  }

  step(): void {
    tidy(() => noGrad(() => {
      const found = this.withGrads();
      const { idx, params } = found;
      let grads = found.grads;
      if (params.length === 0) return;
      if (this.weightDecay !== 0) grads = foreachAdd(grads, params, this.weightDecay);
      if (this.momentum !== 0) {
        const buf = this.slot('momentum_buffer');
        const bs = idx.map((i) => buf[i]);
        if (!this.started) {
          // torch initialises the buffer with the first gradient itself (no dampening on step 1).
          bs.forEach((b, i) => copy_(b, grads[i]));
        } else {
          foreachMul_(bs, this.momentum);
          foreachAdd_(bs, grads, 1 - this.dampening);
        }
        if (this.nesterov) {
          grads = foreachAdd(grads, bs, this.momentum);
        } else {
          grads = bs;
        }
      }
      this.started = true;
      foreachAdd_(params, grads, -this.lr);
    }));
  }

  protected metaState() {
    return { kind: 'sgd', lr: this.lr, momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, weightDecay: this.weightDecay, started: this.started };
  }
  protected loadMeta(meta: Record<string, number | string | boolean>): void {
    if (meta.kind !== undefined && meta.kind !== 'sgd') throw new Error(`optimizer state is for '${meta.kind}', this optimizer is 'sgd'`);
    if (typeof meta.started === 'boolean') this.started = meta.started;
  }
}
