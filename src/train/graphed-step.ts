// The training step captured in a CUDA graph (--cuda-graph), following PyTorch's whole-network capture recipe
// (docs "CUDA Graphs"): a static input batch on the device; a few eager warm-up steps on a side stream (they are
// real training steps, and they create the optimizer state and cuDNN plans outside the graph); one capture of
// preprocessing + forward + backward + both optimizer steps; then every step is: copy the next batch into the
// static input, replay, read the logged terms (one 0-d tensor each, stacked into one static output, so one
// device-to-host read per step).
//
// What the capture needs from the rest of oodgen, and how it gets it:
//  - no host synchronisation inside: the trainer's stepTensors (no .item()), Adam with capturable=True semantics
//    (optim/adam.ts: the step count and bias corrections on the device);
//  - noise from the device's default generator (Generator.default('cuda')), whose Philox offset libtorch advances
//    at every replay; CPU noise moved to the device would be a host copy baked into the graph. So a graphed run
//    draws a different (still seeded) stream from an eager run, and its resume is not bit-identical;
//  - fixed shapes: every training batch has the run's batch size (the trainer drops the last partial batch).
import { CudaGraph, cudaGraphsAvailable } from '../engine/cuda-graph.js';
import { Generator } from '../engine/random.js';
import { keep, tidy } from '../engine/scope.js';
import { noGrad } from '../engine/autograd.js';
import { copy_, stack, zeros } from '../engine/ops/index.js';
import type { Tensor } from '../engine/tensor.js';
import type { ModelTrainer } from '../models/types.js';
import { OodgenError } from '../errors.js';

/** Eager steps on the side stream before capture (PyTorch's example uses 3; DDP-wrapped models need 11). */
export const GRAPH_WARMUP_STEPS = 3;

/** Why a run cannot use --cuda-graph, or null when it can. */
export function cudaGraphProblem(o: { device: string; nproc?: number; mutate?: number | null; hasStepTensors: boolean }): string | null {
  if (!/^cuda(:\d+)?$/.test(o.device)) return `--cuda-graph needs --device cuda (got --device ${o.device}): CUDA graphs capture GPU kernels`;
  if ((o.nproc ?? 1) > 1) return '--cuda-graph is not supported with --nproc > 1 (the gradient all-reduce is not captured); use one of them';
  if (o.mutate) return '--cuda-graph is not supported with --mutate (mutation draws its noise on the CPU)';
  if (!o.hasStepTensors) return '--cuda-graph needs a model family whose training step returns its terms as tensors (ae, vae, sintro)';
  if (!cudaGraphsAvailable()) return 'CUDA graphs need the CUDA build of libtorch (this addon has none, or sees no GPU)';
  return null;
}

/** What GraphedStep needs of a CUDA graph (tests substitute a CPU stand-in that runs the body eagerly). */
export interface GraphLike {
  onSideStream<T>(fn: () => T): T;
  capture<T>(fn: () => T): T;
  replay(): void;
  dispose(): void;
}

export class GraphedStep {
  private readonly graph: GraphLike;
  private readonly input: Tensor;
  private out: Tensor | null = null;
  private names: string[] = [];
  private eager = 0;
  /** Steps run eagerly (warm-up) and by replay, for tests and logs. */
  get counts(): { eager: number; captured: boolean } { return { eager: this.eager, captured: this.out !== null }; }
  readonly generator: Generator;

  /**
   * prepare: what happens to the raw [0, 1] batch inside the step (dequantization with the device generator,
   * channels_last); runs inside the capture.
   */
  constructor(
    private readonly trainer: ModelTrainer, shape: number[], device: string, seed: number,
    private readonly prepare: (x: Tensor, g: Generator) => Tensor,
    graph?: GraphLike,
  ) {
    if (!trainer.stepTensors) throw new OodgenError('--cuda-graph: this model family has no tensor-returning training step');
    this.graph = graph ?? new CudaGraph();
    this.input = keep(zeros(shape, { device }));
    this.generator = Generator.default(device);
    this.generator.seed(seed);
  }

  private body(): Tensor {
    const terms = this.trainer.stepTensors!(this.prepare(this.input, this.generator), this.generator);
    this.names = Object.keys(terms);
    return noGrad(() => stack(this.names.map((k) => terms[k]!.detach().float().reshape([]))));
  }

  /** One training step on batch x (same shape as the static input); returns the logged terms. */
  step(x: Tensor): Record<string, number> {
    noGrad(() => copy_(this.input, x));
    let values: Tensor;
    if (this.eager < GRAPH_WARMUP_STEPS) {
      this.eager++;
      values = this.graph.onSideStream(() => tidy(() => keep(this.body())));
      const r = this.read(values);
      values.dispose();
      return r;
    }
    if (!this.out) this.out = this.graph.capture(() => tidy(() => keep(this.body())));
    this.graph.replay();
    return this.read(this.out);
  }

  private read(values: Tensor): Record<string, number> {
    const v = values.data() as Float32Array;
    return Object.fromEntries(this.names.map((k, i) => [k, v[i]!]));
  }

  dispose(): void {
    this.out?.dispose();
    this.input.dispose();
    this.graph.dispose();
  }
}
