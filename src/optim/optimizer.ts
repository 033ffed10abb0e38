// Optimizer base: parameters, zeroGrad, and a state that saves to tensors + JSON so a run resumes exactly.
import type { Tensor } from '../engine/tensor.js';
import { keep, tidy } from '../engine/scope.js';
import { noGrad, gradsOf, clearGrads } from '../engine/autograd.js';
import { zerosLike, copy_ } from '../engine/ops/index.js';

export interface OptimizerState {
  /** Per-parameter state tensors, named "<paramIndex>.<slot>" (e.g. "3.exp_avg"). */
  tensors: Map<string, Tensor>;
  /** Scalar state and hyper-parameters. */
  meta: Record<string, number | string | boolean>;
}

export abstract class Optimizer {
  protected readonly slots = new Map<string, Tensor[]>();

  constructor(readonly params: Tensor[], protected readonly slotNames: string[]) {
    if (params.length === 0) throw new Error('optimizer: empty parameter list');
  }

  abstract step(): void;
  protected abstract metaState(): Record<string, number | string | boolean>;
  protected abstract loadMeta(meta: Record<string, number | string | boolean>): void;

  /** Clears gradients (set to none). */
  zeroGrad(): void {
    clearGrads(this.params);
  }

  /** The slot tensors of one kind, created as zeros on first use (so the optimizer follows Module.to()). */
  protected slot(name: string): Tensor[] {
    let s = this.slots.get(name);
    if (!s) {
      s = noGrad(() => this.params.map((p) => keep(zerosLike(p))));
      this.slots.set(name, s);
    }
    return s;
  }

  /** Parameters that have a gradient, with their gradients and indices. Gradients belong to the caller's scope. */
  protected withGrads(): { idx: number[]; params: Tensor[]; grads: Tensor[] } {
    const idx: number[] = [], params: Tensor[] = [], grads: Tensor[] = [];
    const all = gradsOf(this.params);
    this.params.forEach((p, i) => {
      const g = all[i];
      if (g) {
        idx.push(i);
        params.push(p);
        grads.push(g);
      }
    });
    return { idx, params, grads };
  }

  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    for (const [name, ts] of this.slots) ts.forEach((t, i) => tensors.set(`${i}.${name}`, t));
    return { tensors, meta: { ...this.metaState(), numParams: this.params.length, slots: this.slotNames.join(',') } };
  }

  loadStateDict(s: OptimizerState): void {
    if (s.meta.numParams !== undefined && s.meta.numParams !== this.params.length) {
      throw new Error(`optimizer state is for ${s.meta.numParams} parameters, this optimizer has ${this.params.length}`);
    }
    this.loadMeta(s.meta);
    for (const name of this.slotNames) {
      const present = this.params.some((_, i) => s.tensors.has(`${i}.${name}`));
      if (!present) continue;
      const slot = this.slot(name);
      tidy(() => noGrad(() => {
        slot.forEach((dst, i) => {
          const src = s.tensors.get(`${i}.${name}`);
          if (!src) throw new Error(`optimizer state: missing '${i}.${name}'`);
          if (src.numel !== dst.numel) throw new Error(`optimizer state '${i}.${name}': ${src.numel} values, parameter has ${dst.numel}`);
          copy_(dst, src.device === dst.device ? src : src.to(dst.device));
        });
      }));
    }
  }

  dispose(): void {
    for (const ts of this.slots.values()) for (const t of ts) t.dispose();
    this.slots.clear();
  }
}
