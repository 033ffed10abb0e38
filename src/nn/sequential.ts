import { Module } from './module.js';
import type { Tensor } from '../engine/tensor.js';
import { autocast, type AutocastDtype } from '../engine/autocast.js';

/** Runs modules in order; children are named "0", "1", ... as in torch.nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[];
  /**
   * Mixed precision for this net's forward passes in training mode (torch.autocast around the forward; eval-mode
   * passes, such as validation and scoring, stay float32). Set by the trainer's --autocast.
   */
  autocast: AutocastDtype | null = null;

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  /** Intermediate tensors are released as soon as the next layer has consumed them (autograd keeps what it needs). */
  forward(x: Tensor): Tensor {
    const dtype = this.autocast;
    if (dtype && this.training) return autocast(x.device, dtype, () => this.run(x));
    return this.run(x);
  }

  private run(x: Tensor): Tensor {
    let h = x;
    for (const m of this.layers) {
      const next = m.forward(h);
      if (h !== x && next !== h) h.dispose();
      h = next;
    }
    return h;
  }
}
