// The engine benchmark: one training step of the reference DCGAN-VAE (engine issue, item 8) on random data.
// The same model and step in PyTorch is bench/pytorch/dcgan_vae.py; `npm run bench:compare` runs both.
import {
  Tensor, Generator, tidy, noGrad, liveTensors, randn, rand, randnLike, exp, mul, div, floor, add, sub, sum, square, chunkAll,
  cuda, getNumThreads, setNumThreads, manualSeed, buildInfo, resolveDevice, keep, toMemoryFormat, checkAutocastDtype,
  CudaGraph, type AutocastDtype,
} from '../src/engine/index.js';
import { OodgenError } from '../src/errors.js';
import { Module } from '../src/nn/index.js';
import { Adam } from '../src/optim/index.js';
import { dcganDecoder, dcganEncoder } from '../src/models/dcgan.js';
import { createModel } from '../src/models/factory.js';
import type { VAE } from '../src/models/vae.js';

export class ReferenceVae extends Module {
  readonly encoder;
  readonly decoder;
  constructor(readonly channels = 3, readonly zDim = 128) {
    super();
    this.encoder = this.registerModule('encoder', dcganEncoder({ channels, encoderOut: 2 * zDim, zDim }));
    this.decoder = this.registerModule('decoder', dcganDecoder({ channels, encoderOut: 2 * zDim, zDim, outChannels: channels }));
  }
  forward(x: Tensor): Tensor {
    return this.loss(x);
  }
  /** sum of squared error / B + KL(q(z|x) || N(0, I)) / B. */
  loss(x: Tensor, eps?: Tensor): Tensor {
    const b = x.shape[0];
    const h = this.encoder.forward(x); // (B, 2z)
    const [mu, logvar] = chunkAll(h, 2, 1); // (B, z) each
    const std = exp(mul(logvar, 0.5));
    const z = add(mu, mul(std, eps ?? randnLike(std)));
    const xr = this.decoder.forward(z); // (B, C, 32, 32)
    const rec = sum(square(sub(xr, x)));
    // -0.5 * sum(1 + logvar - mu^2 - exp(logvar))
    const kl = mul(sum(sub(sub(add(logvar, 1), square(mu)), exp(logvar))), -0.5);
    return mul(add(rec, kl), 1 / b);
  }
}

export interface TrainStepBenchOptions {
  device?: string;
  steps?: number;
  warmup?: number;
  batch?: number;
  threads?: number;
  seed?: number;
  /** Conv weights and the batch in channels_last (the GPU path's --channels-last). */
  channelsLast?: boolean;
  /** Forward passes under autocast (bf16: CPU or CUDA; fp16: CUDA). */
  autocast?: 'bf16' | 'fp16' | null;
  /** Capture the step in a CUDA graph (capturable Adam) and time replays. */
  cudaGraph?: boolean;
  /**
   * 'reference' (default): the reference DCGAN-VAE above (width 64, squared-error loss). 'categorical': the zoo's
   * c10-vae-cat (oodgen's own VAE, 256-way categorical decoder, z 128, width 32) on its real loss (-ELBO), the zoo's
   * slowest model to train on the CPU.
   */
  model?: 'reference' | 'categorical';
}

export interface TrainStepBenchResult {
  median_ms: number;
  min_ms: number;
  max_ms: number;
  live_tensors_before: number;
  live_tensors_after: number;
  device: string;
  threads: number;
  steps: number;
  warmup: number;
  batch: number;
  torch: string;
  engine: 'oodgen';
  /** Peak resident set size of this process so far, MB. */
  peak_rss_mb: number;
  channels_last: boolean;
  autocast: string | null;
  cuda_graph: boolean;
  model: 'reference' | 'categorical';
}

export function benchTrainStep(o: TrainStepBenchOptions = {}): TrainStepBenchResult {
  const device = resolveDevice(o.device ?? 'cpu');
  if (o.cudaGraph && !device.startsWith('cuda')) throw new OodgenError('bench train-step: --cuda-graph needs --device cuda');
  const ac: AutocastDtype | null = o.autocast ? (o.autocast === 'bf16' ? 'bfloat16' : 'float16') : null;
  if (ac) checkAutocastDtype(device, ac);
  if (o.threads !== undefined) setNumThreads(o.threads);
  const steps = o.steps ?? 20, warmup = o.warmup ?? 3, batch = o.batch ?? 64;
  manualSeed(o.seed ?? 0);
  const kind = o.model ?? 'reference';
  if (kind === 'categorical' && (o.cudaGraph || o.autocast || o.channelsLast)) throw new OodgenError('bench train-step: --model categorical runs the plain eager step (no --cuda-graph, --autocast or --channels-last)');
  const model: ReferenceVae | VAE = kind === 'categorical'
    ? createModel({ kind: 'vae', decoder: 'categorical', channels: 3, imageSize: 32, zDim: 128, width: 32 }).to(device) as VAE
    : new ReferenceVae(3, 128).to(device);
  model.train();
  if (o.channelsLast) model.toMemoryFormat('channels_last');
  if (ac && model instanceof ReferenceVae) { model.encoder.autocast = ac; model.decoder.autocast = ac; }
  const opt = new Adam(model.parameters(), { lr: 1e-3, capturable: !!o.cudaGraph });
  const x = noGrad(() => {
    // The categorical likelihood reads 8-bit levels: random levels / 255 (what a training batch holds).
    const cpu = kind === 'categorical'
      ? tidy(() => div(floor(mul(rand([batch, 3, 32, 32], { generator: Generator.cpu(1) }), 256)), 255))
      : randn([batch, 3, 32, 32], { generator: Generator.cpu(1) });
    const d = device === 'cpu' ? cpu : cpu.to(device);
    if (d !== cpu) cpu.dispose();
    if (!o.channelsLast) return d;
    const cl = toMemoryFormat(d, 'channels_last');
    d.dispose();
    return cl;
  });
  const eager = () => tidy(() => {
    opt.zeroGrad();
    const l = model.loss(x);
    const loss = l instanceof Tensor ? l : l.loss;
    loss.backward();
    opt.step();
  });
  // CUDA graph: warm-up on the graph's side stream, one capture, then each timed step is one replay (PyTorch's
  // whole-network recipe; the reference step in bench/pytorch/dcgan_vae.py --cuda-graph does the same).
  const graph = o.cudaGraph ? new CudaGraph() : null;
  let step = eager;
  if (graph) {
    graph.onSideStream(() => { for (let i = 0; i < Math.max(warmup, 3); i++) eager(); });
    opt.zeroGrad();
    graph.capture(eager);
    step = () => graph.replay();
  }
  for (let i = 0; i < warmup; i++) step();
  cuda.synchronize();
  const before = liveTensors();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    step();
    cuda.synchronize();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const after = liveTensors();
  graph?.dispose();
  opt.dispose();
  model.dispose();
  x.dispose();
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return {
    median_ms: median, min_ms: sorted[0], max_ms: sorted[sorted.length - 1],
    live_tensors_before: before, live_tensors_after: after, device, threads: getNumThreads(), steps, warmup, batch,
    torch: buildInfo().torchVersion, engine: 'oodgen', peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    channels_last: !!o.channelsLast, autocast: o.autocast ?? null, cuda_graph: !!o.cudaGraph, model: kind,
  };
}
