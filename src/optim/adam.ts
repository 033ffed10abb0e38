// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), with torch.optim's multi-tensor update so a
// step costs a handful of dispatcher calls whatever the number of parameters.
import { Optimizer } from './optimizer.js';
import type { Tensor } from '../engine/tensor.js';
import { tidy } from '../engine/scope.js';
import { noGrad } from '../engine/autograd.js';
import {
  foreachAdd, foreachAddScalar_, foreachAddcdiv_, foreachAddcmul_, foreachAdd_, foreachDiv_, foreachMul_, foreachSqrt,
} from '../engine/ops/inplace.js';

export interface AdamOptions { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number }

export class Adam extends Optimizer {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  stepCount = 0;
  protected decoupled = false;

  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, ['exp_avg', 'exp_avg_sq']);
    this.lr = o.lr ?? 1e-3;
    [this.beta1, this.beta2] = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    for (const [k, v] of Object.entries({ lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps })) {
      if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`Adam: invalid ${k} ${v}`);
    }
  }

  step(): void {
    tidy(() => noGrad(() => {
      const found = this.withGrads();
      const { idx, params } = found;
      let grads = found.grads;
      if (params.length === 0) return;
      const m = this.slot('exp_avg'), v = this.slot('exp_avg_sq');
      const ms = idx.map((i) => m[i]), vs = idx.map((i) => v[i]);
      this.stepCount += 1;
      if (this.weightDecay !== 0) {
        if (this.decoupled) foreachMul_(params, 1 - this.lr * this.weightDecay);
        else grads = foreachAdd(grads, params, this.weightDecay);
      }
      foreachMul_(ms, this.beta1);
      foreachAdd_(ms, grads, 1 - this.beta1);
      foreachMul_(vs, this.beta2);
      foreachAddcmul_(vs, grads, grads, 1 - this.beta2);
      const bc1 = 1 - this.beta1 ** this.stepCount;
      const bc2 = 1 - this.beta2 ** this.stepCount;
      const denom = foreachSqrt(vs);
      foreachDiv_(denom, Math.sqrt(bc2));
      foreachAddScalar_(denom, this.eps);
      foreachAddcdiv_(params, ms, denom, -this.lr / bc1);
    }));
  }

  protected metaState() {
    return { kind: this.decoupled ? 'adamw' : 'adam', lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.stepCount };
  }
  protected loadMeta(meta: Record<string, number | string | boolean>): void {
    const kind = this.decoupled ? 'adamw' : 'adam';
    if (meta.kind !== undefined && meta.kind !== kind) throw new Error(`optimizer state is for '${meta.kind}', this optimizer is '${kind}'`);
    if (typeof meta.step === 'number') this.stepCount = meta.step;
  }
}

export class AdamW extends Adam {
  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, { weightDecay: 1e-2, ...o });
    this.decoupled = true;
  }
}
