// Glow (Kingma & Dhariwal 2018): a multi-scale normalizing flow with an exact log-likelihood.
//
// GlowFlow is the multi-scale flow over tensors of one shape (C, H, W) (Glow Fig. 2b, from RealNVP): L levels,
// each squeeze (space-to-depth) -> K steps of flow (actnorm, invertible 1x1 conv, affine coupling, flow-layers.ts)
// -> split off half the channels z_i, whose density is a Gaussian with mean and log-std predicted from the kept
// half by a zero-initialised conv (the "learned prior" of openai/glow's split2d). The last level's latent has a
// learned per-position Gaussian (a zero conv applied to zeros: openai/glow's learntop). So
//
//   log p(y) = sum_layers log|det J| + sum_i log N(z_i; mu_i(h_i), sigma_i(h_i)^2)        (exact)
//
// Sampling draws every z_i with standard deviation T * sigma_i (temperature T, Glow section 5; T < 1 trades
// diversity for quality) and runs the flow backwards.
//
// Glow, the image model, applies GlowFlow to y = x~ - 1/2 for dequantized pixels x~ = (k + u)/256 in [0, 1]
// (u ~ U[0,1), the trainer's dequantization). The density of the 8-bit image k is then bounded by
//   log P(k) >= E_u log p(x~) - D log 256,   bits/dim = -(log p(x~) - D log 256) / (D log 2)
// (Theis et al. 2016; openai/glow's objective, its "-log(n_bins) * D" term), which is the training loss.
import type { Tensor } from '../engine/tensor.js';
import type { Generator } from '../engine/random.js';
import { add, cat, clamp, exp, mean as meanOp, mul, narrow, neg, sub, zeros, zerosLike, div } from '../engine/ops/index.js';
import { Adam } from '../optim/adam.js';
import { clipGradNorm } from '../engine/autograd.js';
import type { ElboTerms, FlowSizes, ModelCapability, ModelConfig, ModelTrainer, TrainableModel, TrainerOptions } from './types.js';
import type { ModelFamily } from './registry.js';
import { Module } from '../nn/module.js';
import { resolveDevice } from '../engine/device.js';
import {
  FlowStep, ModuleList, ZeroConv2d, gaussianLogProb, splitSizes, squeeze2d, unsqueeze2d, zerosPerSample,
} from './flow-layers.js';
import { cpuNoise } from './vae.js';
import { OodgenError } from '../errors.js';

export interface GlowFlowOptions {
  /** Input shape (C, H, W). */
  shape: [number, number, number];
  /** Levels L (each halves H and W when squeeze is on). */
  levels: number;
  /** Steps of flow K per level. */
  steps: number;
  /** Hidden channels of the coupling networks. */
  width: number;
  /** LU-parameterised 1x1 convolutions (default false: a plain C x C weight). */
  lu?: boolean;
  /** Squeeze at the start of each level (default true; off for a vector shaped (C, 1, 1)). */
  squeeze?: boolean;
  generator?: Generator;
}

/** Problems with a flow shape / size, one message each (empty when fine). */
export function glowFlowProblems(o: Omit<GlowFlowOptions, 'generator'>): string[] {
  const out: string[] = [];
  const [c, h, w] = o.shape;
  if (!Number.isInteger(o.levels) || o.levels < 1) out.push(`flow levels must be a positive integer, got ${o.levels}`);
  if (!Number.isInteger(o.steps) || o.steps < 1) out.push(`flow steps must be a positive integer, got ${o.steps}`);
  if (!Number.isInteger(o.width) || o.width < 1) out.push(`flow width must be a positive integer, got ${o.width}`);
  if (out.length) return out;
  if (o.squeeze ?? true) {
    const f = 2 ** o.levels;
    if (h % f || w % f) {
      let max = 0;
      while (h % 2 ** (max + 1) === 0 && w % 2 ** (max + 1) === 0) max++;
      out.push(`${o.levels} levels squeeze the image ${o.levels} times: height and width (${h}x${w}) must be multiples of ${f} (at most ${max} levels here)`);
    }
  } else if (o.levels > 1) {
    out.push('a flow without squeeze has one level');
  }
  if (c * ((o.squeeze ?? true) ? 4 : 1) < 2) out.push(`a flow needs at least 2 channels to couple, got ${c}`);
  return out;
}

/** One level: K steps of flow and the learned prior of the latent it splits off (or of the whole top latent). */
export class GlowLevel extends Module {
  readonly flows: ModuleList<FlowStep>;
  readonly prior: ZeroConv2d;
  constructor(readonly channels: number, readonly split: boolean, o: GlowFlowOptions) {
    super();
    const steps = Array.from({ length: o.steps }, () => new FlowStep(channels, o.width, { lu: o.lu, generator: o.generator }));
    this.flows = this.registerModule('flows', new ModuleList(steps));
    const [ca, cb] = splitSizes(channels);
    this.prior = this.registerModule('prior', split ? new ZeroConv2d(ca, 2 * cb) : new ZeroConv2d(channels, 2 * channels));
  }
  /** mean and log-std of the split-off latent, from the kept half h (split) or from zeros of z's shape (top). */
  priorParams(h: Tensor): { m: Tensor; logsd: Tensor } {
    const p = this.prior.forward(h); // (B, 2 c_z, H, W)
    const cz = p.shape[1]! / 2;
    return { m: narrow(p, 1, 0, cz), logsd: narrow(p, 1, cz, cz) };
  }
  forward(): Tensor {
    throw new Error('GlowLevel is driven by GlowFlow');
  }
}

/** The multi-scale flow over (C, H, W) tensors with an exact log-density. */
export class GlowFlow extends Module {
  readonly levels: ModuleList<GlowLevel>;
  /** Shape (C, H, W) of each level's latent z_i. */
  readonly latentShapes: [number, number, number][] = [];
  readonly squeeze: boolean;
  readonly shape: [number, number, number];

  constructor(o: GlowFlowOptions) {
    super();
    const problems = glowFlowProblems(o);
    if (problems.length) throw new Error(`glow: ${problems.join('; ')}`);
    this.squeeze = o.squeeze ?? true;
    this.shape = o.shape;
    let [c, h, w] = o.shape;
    const levels: GlowLevel[] = [];
    for (let i = 0; i < o.levels; i++) {
      if (this.squeeze) [c, h, w] = [4 * c, h / 2, w / 2];
      const split = i < o.levels - 1;
      levels.push(new GlowLevel(c, split, o));
      if (split) {
        const [ca, cb] = splitSizes(c);
        this.latentShapes.push([cb, h, w]);
        c = ca;
      } else {
        this.latentShapes.push([c, h, w]);
      }
    }
    this.levels = this.registerModule('levels', new ModuleList(levels));
  }

  /** Dimensions per sample, C*H*W. */
  get dims(): number {
    return this.shape[0] * this.shape[1] * this.shape[2];
  }

  /** y -> latents z_i (one per level), sum of log-determinants and sum of latent log-densities, each (B,). */
  encode(y: Tensor): { zs: Tensor[]; logdet: Tensor; logpz: Tensor } {
    const s = y.shape;
    if (s.length !== 4 || s[1] !== this.shape[0] || s[2] !== this.shape[1] || s[3] !== this.shape[2]) {
      throw new OodgenError(`glow: input has shape [${s.join(', ')}], the flow takes [B, ${this.shape.join(', ')}]`);
    }
    let h = y;
    let logdet = zerosPerSample(y);
    let logpz = zerosPerSample(y);
    const zs: Tensor[] = [];
    for (const level of this.levels.items) {
      if (this.squeeze) h = squeeze2d(h);
      for (const step of level.flows.items) {
        const r = step.forwardFlow(h);
        h = r.y;
        logdet = add(logdet, r.logdet);
      }
      if (level.split) {
        const [ca, cb] = splitSizes(h.shape[1]!);
        const z1 = narrow(h, 1, 0, ca), z2 = narrow(h, 1, ca, cb);
        const { m, logsd } = level.priorParams(z1);
        logpz = add(logpz, gaussianLogProb(z2, m, logsd));
        zs.push(z2);
        h = z1;
      } else {
        const { m, logsd } = level.priorParams(zeros(h.shape, { device: h.device }));
        logpz = add(logpz, gaussianLogProb(h, m, logsd));
        zs.push(h);
      }
    }
    return { zs, logdet, logpz };
  }

  /** log p(y) per sample (B,), nats: the change of variables, exact. */
  flowLogProb(y: Tensor): Tensor {
    const { logdet, logpz } = this.encode(y);
    return add(logdet, logpz);
  }

  /**
   * The flow run backwards. With `zs` (one latent per level, as encode returns) it inverts encode exactly; without,
   * it samples each latent as mean + T * std * eps, eps ~ N(0, I) drawn on the CPU from `generator`.
   */
  reverse(o: { zs?: Tensor[]; n?: number; temperature?: number; generator?: Generator; device?: string }): Tensor {
    const t = o.temperature ?? 1;
    const device = o.device ?? this.device;
    if (o.zs && o.zs.length !== this.latentShapes.length) throw new OodgenError(`glow: reverse needs ${this.latentShapes.length} latents, got ${o.zs.length}`);
    if (!o.zs && !(Number.isInteger(o.n) && o.n! >= 1)) throw new OodgenError(`glow: the number of samples must be a positive integer, got ${o.n}`);
    if (!(t >= 0 && Number.isFinite(t))) throw new OodgenError(`temperature must be >= 0, got ${t}`);
    const n = o.zs ? o.zs[0]!.shape[0]! : o.n!;
    const draw = (m: Tensor, logsd: Tensor, i: number): Tensor =>
      o.zs ? o.zs[i]! : add(m, mul(exp(logsd), mul(cpuNoise(m.shape, device, o.generator), t)));
    let h: Tensor | null = null;
    const levels = this.levels.items;
    for (let i = levels.length - 1; i >= 0; i--) {
      const level = levels[i]!;
      if (!level.split) {
        const { m, logsd } = level.priorParams(zeros([n, ...this.latentShapes[i]!], { device }));
        h = draw(m, logsd, i);
      } else {
        const { m, logsd } = level.priorParams(h!);
        h = cat([h!, draw(m, logsd, i)], 1);
      }
      for (let k = level.flows.items.length - 1; k >= 0; k--) h = level.flows.items[k]!.reverse(h!);
      if (this.squeeze) h = unsqueeze2d(h!);
    }
    return h!;
  }

  forward(y: Tensor): Tensor {
    return this.flowLogProb(y);
  }
}

/** A Glow config: a ModelConfig of kind 'glow'; `flow` sizes the flow, zDim = dim(x) and width = flow.width. */
export type GlowConfig = ModelConfig;

/** Sizes: one that trains on a CPU in the background, and the paper's for CIFAR-10-sized images on a GPU. */
export const GLOW_SIZES = {
  cpu: { levels: 3, steps: 8, width: 128, lu: true },
  paper: { levels: 3, steps: 32, width: 512, lu: true },
} as const satisfies Record<string, FlowSizes>;

export const LOG_256 = Math.log(256);

/** The flow sizes of a config: its own, else the CPU size with the config's width and at most the levels it allows. */
export function glowSizes(c: Pick<ModelConfig, 'flow' | 'width'> & { imageSize?: number }): FlowSizes {
  if (c.flow) return c.flow;
  let fit = 0;
  while (c.imageSize !== undefined && c.imageSize % 2 ** (fit + 1) === 0) fit++;
  return { ...GLOW_SIZES.cpu, width: c.width, levels: c.imageSize === undefined ? GLOW_SIZES.cpu.levels : Math.min(GLOW_SIZES.cpu.levels, fit) };
}

/**
 * Glow over images x in [0, 1]^(C x H x W): exact log-density of dequantized pixels, bits/dim, samples. Capabilities
 * 'log-likelihood' and 'sample'; no encoder, decoder or BatchNorm.
 */
export class Glow extends GlowFlow implements TrainableModel {
  /** A density over continuous (dequantized) x, like the Gaussian decoders. */
  readonly continuousLikelihood = true;
  readonly capabilities: readonly ModelCapability[] = GLOW_CAPABILITIES;
  constructor(readonly config: GlowConfig, o: { generator?: Generator } = {}) {
    const f = glowSizes(config);
    super({ shape: [config.channels, config.imageSize, config.imageSize], levels: f.levels, steps: f.steps, width: f.width, lu: f.lu, generator: o.generator });
  }

  /** log p(x~) per image (B,), nats, for dequantized x~ in [0, 1] (the shift to [-1/2, 1/2] has unit Jacobian). */
  logDensity(x: Tensor): Tensor {
    return this.flowLogProb(sub(x, 0.5));
  }

  /**
   * Exact log p(x) per image (B,), nats, as a density over continuous x in [0, 1]^D (the model capability
   * 'log-likelihood'; like a Gaussian decoder's density, so bits/dim of 8-bit data add 8 = log2 256). Pass
   * dequantized pixels for the training objective's value, or the data's k/255 as given for a deterministic score.
   */
  logProb(x: Tensor): Tensor {
    return this.logDensity(x);
  }

  /** log p(z) and log |det J| of x (B,) each, summing to logProb(x); the latents themselves are freed. */
  logProbTerms(x: Tensor): { logpz: Tensor; logdet: Tensor } {
    const { zs, logdet, logpz } = this.encode(sub(x, 0.5));
    for (const z of zs) if (z !== logdet && z !== logpz) z.dispose();
    return { logpz, logdet };
  }

  /** Bits per dimension of the 8-bit images behind dequantized x~: -(log p(x~) - D log 256) / (D log 2), (B,). */
  bitsPerDim(x: Tensor): Tensor {
    const d = this.dims;
    return div(neg(sub(this.logDensity(x), d * LOG_256)), d * Math.LN2);
  }

  /** Training loss: mean bits/dim of a dequantized batch (Glow's objective); terms: bpd, nll (nats/image). */
  loss(x: Tensor): { loss: Tensor; terms: Record<string, Tensor> } {
    const ll = this.logDensity(x);
    const d = this.dims;
    const nll = neg(sub(ll, d * LOG_256)); // -log P(k) bound, nats per image
    const loss = div(meanOp(nll), d * Math.LN2);
    return { loss, terms: { bpd: loss, nll: meanOp(nll) } };
  }

  /** Validation terms of the trainer: the exact log-likelihood, no KL. */
  elboTerms(x: Tensor): ElboTerms {
    const ll = this.logProb(x);
    return { logLik: ll, kl: zerosLike(ll), elbo: ll };
  }

  /**
   * One Adam over every parameter on the bits/dim loss (Glow's objective). hyper.maxGradNorm > 0 clips the global
   * gradient norm before each step (torch.nn.utils.clip_grad_norm_) and logs the norm before clipping (gradNorm).
   * Why: a single batch can give an astronomical loss (the Fashion-MNIST background Glow, --mutate 0.2: bits/dim 5.8
   * at step 5,026, 1.5e10 at 5,027), and its gradient, even through Adam's normalisation, wrecks the model for good
   * (5.8 -> 20 bits/dim in 20 steps, then an infinite loss). Off by default, as in the paper.
   */
  createTrainer(o: TrainerOptions): ModelTrainer {
    const params = this.parameters();
    const opt = new Adam(params, { lr: o.lr, betas: o.betas });
    const maxNorm = o.hyper?.maxGradNorm ?? 0;
    return {
      optimizers: { main: opt },
      step: (x) => {
        opt.zeroGrad();
        const { loss, terms } = this.loss(x);
        loss.backward();
        const gradNorm = maxNorm > 0 ? clipGradNorm(params, maxNorm) : null;
        opt.step();
        opt.zeroGrad();
        return { loss: loss.item(), bpd: terms.bpd!.item(), nll: terms.nll!.item(), ...(gradNorm !== null ? { gradNorm } : {}) };
      },
      dispose: () => opt.dispose(),
    };
  }

  /** n images in [0, 1] (B, C, H, W) drawn at temperature T. */
  sample(n: number, opts: { temperature?: number; generator?: Generator } = {}): Tensor {
    return clamp(add(this.reverse({ n, temperature: opts.temperature, generator: opts.generator }), 0.5), 0, 1);
  }
}

const GLOW_CAPABILITIES: readonly ModelCapability[] = ['log-likelihood', 'sample'];

/** Checks a Glow config; a message per problem. */
export function glowConfigProblems(c: GlowConfig): string[] {
  const f = glowSizes(c);
  return glowFlowProblems({ shape: [c.channels, c.imageSize, c.imageSize], levels: f.levels, steps: f.steps, width: f.width });
}

/** Builds a Glow on a device (default cpu) after checking its config. */
export function createGlow(config: GlowConfig, opts: { generator?: Generator; device?: string } = {}): Glow {
  const p = glowConfigProblems(config);
  if (p.length) throw new Error(`glow config: ${p.join('; ')}`);
  const m = new Glow(config, { generator: opts.generator });
  const device = resolveDevice(opts.device);
  if (device !== 'cpu') m.to(device);
  return m;
}

export const glowFamily: ModelFamily = {
  kind: 'glow',
  title: 'Glow: multi-scale flow (actnorm, invertible 1x1 conv, affine coupling), exact likelihood; --width is the coupling width',
  reference: 'Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", NeurIPS 2018',
  capabilities: GLOW_CAPABILITIES,
  // The flow's density is over continuous x like a Gaussian decoder's (dequantized training, bits/dim + 8).
  decoders: ['gaussian'],
  defaults: () => ({ zDim: 1, width: GLOW_SIZES.cpu.width, batchSize: 64, lr: 1e-3, hyper: { maxGradNorm: 0 } }),
  hyperDoc: { maxGradNorm: 'clip the global gradient norm at this value before each Adam step (default 0: off)' },
  // A flow's latent has the dimension of x: zDim is set to C*H*W (a --z-dim is overwritten); width = flow width.
  resolveConfig: (c) => {
    const flow = glowSizes(c);
    return { ...c, zDim: c.channels * c.imageSize * c.imageSize, width: flow.width, flow };
  },
  configProblems: (c) => [
    ...(c.sigma2 !== undefined || c.beta !== undefined ? ['glow has no decoder variance or KL weight (--sigma2, --beta)'] : []),
    ...glowConfigProblems(c),
  ],
  create: (config, init) => new Glow(config, init),
};
