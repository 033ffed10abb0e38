// CUDA graphs (torch.cuda.CUDAGraph): a sequence of kernels captured once and replayed with one launch, so a
// training step of a small model costs one graph launch instead of hundreds of dispatcher calls and kernel
// launches. The rules are PyTorch's (docs: "CUDA Graphs"): shapes, devices and the tensors the captured kernels
// read and write are fixed at capture (static tensors: copy new inputs into them before replay, read outputs
// from them after); nothing in the captured region may synchronise with the host (no .item(), no data(), no CPU
// tensors moved to the device); random numbers must come from the device's default generator (its Philox offset
// advances on every replay); warm-up iterations run on the side stream before capture so lazily created state
// (optimizer slots, cuDNN plans) exists and is not allocated inside the graph.
import { native, type CudaGraphHandle } from './native.js';
import { OodgenError } from '../errors.js';

/** Whether this addon can capture CUDA graphs here (a CUDA build that sees a GPU). */
export function cudaGraphsAvailable(): boolean {
  return native.buildInfo().cudaGraphs && native.cudaDeviceCount() > 0;
}

export class CudaGraph {
  private h: CudaGraphHandle | null;
  private captured = false;

  /** Throws the addon's clear Error in a CPU build ("CUDA graphs need the CUDA build of libtorch ..."). */
  constructor() {
    this.h = native.cudaGraphNew();
  }

  private handle(): CudaGraphHandle {
    if (!this.h) throw new OodgenError('CUDA graph: already disposed');
    return this.h;
  }

  /** Runs fn on the graph's side stream (warm-up, as torch.cuda.graph requires), then returns to the previous stream. */
  onSideStream<T>(fn: () => T): T {
    const h = this.handle();
    native.cudaGraph(h, 'stream-on');
    try {
      return fn();
    } finally {
      native.cudaGraph(h, 'stream-off');
    }
  }

  /** Captures the kernels fn launches (on the side stream); fn runs once, its kernels do not execute until replay. */
  capture<T>(fn: () => T): T {
    if (this.captured) throw new OodgenError('CUDA graph: already captured');
    const h = this.handle();
    return this.onSideStream(() => {
      native.cudaGraph(h, 'begin');
      let out: T;
      try {
        out = fn();
      } catch (e) {
        // End the capture so the stream is usable again; fn's error is the one worth reporting.
        try { native.cudaGraph(h, 'end'); } catch { /* the capture was invalidated by fn's failure */ }
        throw e;
      }
      native.cudaGraph(h, 'end');
      this.captured = true;
      return out;
    });
  }

  replay(): void {
    if (!this.captured) throw new OodgenError('CUDA graph: nothing captured yet');
    native.cudaGraph(this.handle(), 'replay');
  }

  /** Frees the graph and its private memory pool. */
  dispose(): void {
    if (!this.h) return;
    native.cudaGraph(this.h, 'reset');
    this.h = null;
  }
}
