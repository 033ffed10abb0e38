// Module: named parameters, buffers and submodules with PyTorch's state_dict naming ("encoder.3.running_mean").
import { Tensor } from '../engine/tensor.js';
import { keep, tidy } from '../engine/scope.js';
import { noGrad, clearGrads } from '../engine/autograd.js';
import { copy_, toDevice, toDtype, detach } from '../engine/ops/index.js';
import { toMemoryFormat, type MemoryFormat } from '../engine/memory-format.js';

export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _children = new Map<string, Module>();

  abstract forward(...args: Tensor[]): Tensor;

  protected registerParameter(name: string, t: Tensor): Tensor {
    keep(t);
    if (!t.requiresGrad) t.requiresGrad_(true);
    this._params.set(name, t);
    return t;
  }
  protected registerBuffer(name: string, t: Tensor): Tensor {
    keep(t);
    this._buffers.set(name, t);
    return t;
  }
  protected registerModule<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  children(): [string, Module][] {
    return [...this._children];
  }
  /** Every (prefixed name, module) pair, this module first. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this._children) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this._params) out.push([prefix ? `${prefix}.${n}` : n, p]);
    for (const [n, c] of this._children) out.push(...c.namedParameters(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this._buffers) out.push([prefix ? `${prefix}.${n}` : n, b]);
    for (const [n, c] of this._children) out.push(...c.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  /** Parameters and buffers in PyTorch's state_dict order (per module: parameters, buffers, then children). */
  stateDict(prefix = ''): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [n, p] of this._params) out.set(prefix ? `${prefix}.${n}` : n, p);
    for (const [n, b] of this._buffers) out.set(prefix ? `${prefix}.${n}` : n, b);
    for (const [n, c] of this._children) for (const [k, v] of c.stateDict(prefix ? `${prefix}.${n}` : n)) out.set(k, v);
    return out;
  }

  /**
   * Copies values into this module's parameters and buffers (in place, so optimizers keep their references).
   * strict: every key must match both ways. Shapes must always match. Values are cast to each target's dtype
   * and device.
   */
  loadStateDict(state: Map<string, Tensor>, opts: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    if ((opts.strict ?? true) && (missing.length || unexpected.length)) {
      throw new Error(`loadStateDict: ${missing.length ? `missing keys: ${missing.join(', ')}` : ''}` +
        `${missing.length && unexpected.length ? '; ' : ''}${unexpected.length ? `unexpected keys: ${unexpected.join(', ')}` : ''}`);
    }
    for (const [k, dst] of own) {
      const src = state.get(k);
      if (!src) continue;
      const ds = dst.shape, ss = src.shape;
      if (ds.length !== ss.length || ds.some((d, i) => d !== ss[i])) {
        throw new Error(`loadStateDict: '${k}' has shape [${ss.join(', ')}], the module expects [${ds.join(', ')}]`);
      }
      tidy(() => noGrad(() => {
        let v = src;
        if (v.dtype !== dst.dtype) v = toDtype(v, dst.dtype);
        if (v.device !== dst.device) v = toDevice(v, dst.device);
        copy_(dst, v);
      }));
    }
    return { missing, unexpected };
  }

  /** Sets training mode on this module and every submodule. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Moves parameters and buffers to a device in place (tensor objects keep their identity). */
  to(device: string): this {
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        for (const [, p] of m._params) {
          if (p.device === device) continue;
          const moved = detach(toDevice(p, device));
          moved.requiresGrad_(true);
          p.replaceWith(keep(moved));
        }
        for (const [, b] of m._buffers) {
          if (b.device === device) continue;
          b.replaceWith(keep(toDevice(b, device)));
        }
      }
    });
    return this;
  }

  /**
   * Lays out every 4-d parameter and buffer (the conv weights) in a memory format, in place (tensor objects keep
   * their identity), like PyTorch's model.to(memory_format=torch.channels_last). Values are unchanged; state dicts
   * are still written contiguous (safetensors stores row-major bytes).
   */
  toMemoryFormat(f: MemoryFormat): this {
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        for (const t of [...m._params.values(), ...m._buffers.values()]) {
          if (t.shape.length !== 4) continue;
          const grad = t.requiresGrad;
          const laid = toMemoryFormat(t, f);
          const own = detach(laid);
          laid.dispose();
          if (grad) own.requiresGrad_(true);
          t.replaceWith(keep(own));
        }
      }
    });
    return this;
  }

  get device(): string {
    const p = this.parameters()[0] ?? this.namedBuffers()[0]?.[1];
    return p ? p.device : 'cpu';
  }

  /** Clears accumulated gradients (set to none, like zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    clearGrads(this.parameters());
  }

  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.numel, 0);
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}
