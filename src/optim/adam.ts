// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), with torch.optim's multi-tensor update so a
// step costs a handful of dispatcher calls whatever the number of parameters.
import { Optimizer } from './optimizer.js';
import type { Tensor } from '../engine/tensor.js';
import { keep, tidy } from '../engine/scope.js';
import { call } from '../engine/dispatch.js';
import { full } from '../engine/ops/creation.js';
import { div, mul, reciprocal, rsub, sqrt } from '../engine/ops/elementwise.js';
import { addInPlace, fill_ } from '../engine/ops/inplace.js';
import { noGrad } from '../engine/autograd.js';
import {
  foreachAdd, foreachAddScalar_, foreachAddcdiv_, foreachAddcmul_, foreachAdd_, foreachDiv_, foreachMul_, foreachSqrt,
} from '../engine/ops/inplace.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /**
   * torch.optim.Adam's capturable=True: the step count lives in a device tensor and the bias corrections are
   * computed on the device, so a step makes no host round trip and reads no host value that changes between steps,
   * and can be captured in a CUDA graph and replayed (the JS-side step count is then only a mirror; stateDict reads
   * the device one). Same update as the default, up to float32 rounding of beta^step.
   */
  capturable?: boolean;
}

export class Adam extends Optimizer {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  stepCount = 0;
  readonly capturable: boolean;
  protected decoupled = false;
  /** The step count on the parameters' device (capturable mode), float32 like torch's state_steps. */
  private stepT: Tensor | null = null;

  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, ['exp_avg', 'exp_avg_sq']);
    this.lr = o.lr ?? 1e-3;
    [this.beta1, this.beta2] = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.capturable = o.capturable ?? false;
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
      if (this.capturable) {
        this.deviceUpdate(params, ms, vs);
        return;
      }
      const bc1 = 1 - this.beta1 ** this.stepCount;
      const bc2 = 1 - this.beta2 ** this.stepCount;
      const denom = foreachSqrt(vs);
      foreachDiv_(denom, Math.sqrt(bc2));
      foreachAddScalar_(denom, this.eps);
      foreachAddcdiv_(params, ms, denom, -this.lr / bc1);
    }));
  }

  /**
   * The parameter update with the step count on the device (torch's _multi_tensor_adam, capturable branch):
   *   step += 1;  p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
   * Only 0-d device tensors carry the step-dependent factors, so the kernels are the same at every step.
   */
  private deviceUpdate(params: Tensor[], ms: Tensor[], vs: Tensor[]): void {
    if (!this.stepT) this.stepT = keep(full([], this.stepCount - 1, { device: params[0]!.device }));
    addInPlace(this.stepT, 1);
    const bc1 = rsub(call('aten::pow.Scalar', this.beta1, this.stepT), 1); // 1 - beta1^step
    const bc2Sqrt = sqrt(rsub(call('aten::pow.Scalar', this.beta2, this.stepT), 1));
    const stepSize = mul(reciprocal(bc1), -this.lr);
    const denom = foreachSqrt(vs);
    params.forEach((p, i) => {
      const d = div(denom[i]!, bc2Sqrt);
      addInPlace(d, this.eps);
      addInPlace(p, mul(div(ms[i]!, d), stepSize));
    });
  }

  protected metaState() {
    // Capturable: the device count is the true one (graph replays do not run this JS).
    const step = this.stepT ? Math.round(this.stepT.item()) : this.stepCount;
    return { kind: this.decoupled ? 'adamw' : 'adam', lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step };
  }

  override dispose(): void {
    this.stepT?.dispose();
    this.stepT = null;
    super.dispose();
  }
  protected loadMeta(meta: Record<string, number | string | boolean>): void {
    const kind = this.decoupled ? 'adamw' : 'adam';
    if (meta.kind !== undefined && meta.kind !== kind) throw new Error(`optimizer state is for '${meta.kind}', this optimizer is '${kind}'`);
    if (typeof meta.step === 'number') {
      this.stepCount = meta.step;
      if (this.stepT) fill_(this.stepT, meta.step);
    }
  }
}

export class AdamW extends Adam {
  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, { weightDecay: 1e-2, ...o });
    this.decoupled = true;
  }
}
