// f-VAE (Su & Wu 2018, "f-VAEs: Improve VAEs with Conditional Flows", arXiv 1809.05861): a VAE whose latent is
// transformed by a flow. The paper's posterior is a conditional flow of Gaussian noise u,
//
//   z = F_x(u) = F(sigma * u + E(x)),   u ~ N(0, I),
//
// with E a deterministic encoder, sigma a trained vector that does not depend on x, and F an unconditional flow
// (Glow's steps, as in the paper's code); the decoder reconstructs from w = sigma * u + E(x) = F^-1(z), and the prior
// of z is N(0, I). Written in w, the model is a VAE with
//
//   q(w|x) = N(E(x), diag sigma^2)                 (the encoder's mean and one shared, learned log-variance)
//   p(w)   = N(F(w); 0, I) |det dF/dw|             (a flow prior: GlowFlow, exact)
//   p(x|w) = N(x; G(w), sigma_x^2 I)               (Gaussian decoder, sigma_x^2 fixed or learned)
//
// and the paper's loss (its joint-KL objective with the simple F_x above; cf. the authors' Keras code, bojone/flow) is
// the negative ELBO
//
//   L(x) = E_u[ -log p(x|w) - log p(w) + log q(w|x) ]
//        = E_u[ ||x - G(w)||^2 / (2 sigma_x^2) + ||F(w)||^2/2 - log|det dF/dw| - ||u||^2/2 - sum log sigma ] + const,
//
// one sample of u per image. beta weights log q(w|x) - log p(w) (beta = 1: the paper's objective). Sampling draws
// F's base noise at temperature T and decodes w = F^-1(T eps) (a flow prior's temperature, as in Glow). dim(w) = zDim
// may be anything up to dim(x) = C*H*W: at dim(x) the flow is Glow's multi-scale flow over w shaped as an image
// (C, H, W), below it a one-level flow over w shaped (zDim, 1, 1).
//
// Because q is Gaussian, every likelihood score (ELBO, IWAE, bits/dim) works through the LatentModel interface: the
// flow prior enters through logPrior(z), which the scores use instead of log N(z; 0, I) when a model has one.
// Encoder and decoder are the DCGAN pair of the other families (dcgan.ts); state_dict names: encoder.*, decoder.*,
// log_sigma2 (learned decoder variance), posterior_logvar (zDim,), prior.levels.* (the flow, as glow.ts).
import type { Tensor } from '../engine/tensor.js';
import type { Generator } from '../engine/random.js';
import { add, expand, exp, full, mul, reshape, square, sub, sum, view } from '../engine/ops/index.js';
import { resolveDevice } from '../engine/device.js';
import { DCGAN_DEFAULTS, LatentBase, cpuNoise, type ElboTerms, type ModelInitOptions } from './vae.js';
import { GlowFlow, glowFlowProblems } from './glow.js';
import type { FlowSizes, ModelCapability, ModelConfig, Posterior } from './types.js';
import type { ModelFamily } from './registry.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** An f-VAE config: a ModelConfig of kind 'fvae' whose `flow` sizes the prior flow (default: defaultFvaeFlow). */
export type FvaeConfig = ModelConfig;

/** A flow that trains on a CPU: 3 levels x 4 steps, width 64 over an image-shaped latent; 1 x 8 x 64 over a vector. */
export function defaultFvaeFlow(c: Pick<ModelConfig, 'channels' | 'imageSize' | 'zDim'>): FlowSizes {
  const full = c.zDim === c.channels * c.imageSize * c.imageSize;
  return full ? { levels: c.imageSize % 8 === 0 ? 3 : 2, steps: 4, width: 64, lu: true } : { levels: 1, steps: 8, width: 64, lu: true };
}

/** The shape the flow sees: (C, H, W) when zDim = dim(x), else (zDim, 1, 1). */
export function fvaeLatentShape(c: Pick<ModelConfig, 'channels' | 'imageSize' | 'zDim'>): { shape: [number, number, number]; squeeze: boolean } {
  const d = c.channels * c.imageSize * c.imageSize;
  return c.zDim === d ? { shape: [c.channels, c.imageSize, c.imageSize], squeeze: true } : { shape: [c.zDim, 1, 1], squeeze: false };
}

/** Problems with an f-VAE config, one message each. */
export function fvaeConfigProblems(c: FvaeConfig): string[] {
  const out: string[] = [];
  if (c.decoder !== 'gaussian') out.push(`f-VAE has a Gaussian decoder (its paper's); got decoder '${c.decoder}'`);
  const d = c.channels * c.imageSize * c.imageSize;
  if (!Number.isInteger(c.zDim) || c.zDim < 2 || c.zDim > d) out.push(`f-VAE z dim must be an integer from 2 to dim(x) = ${d}, got ${c.zDim}`);
  if (out.length) return out;
  const f = c.flow ?? defaultFvaeFlow(c);
  const { shape, squeeze } = fvaeLatentShape(c);
  out.push(...glowFlowProblems({ shape, squeeze, levels: f.levels, steps: f.steps, width: f.width }).map((p) => `prior flow: ${p}`));
  return out;
}

export class FVAE extends LatentBase {
  /** log sigma^2 of q(w|x), one per latent dimension, shared by every x (the paper's trainable sigma). */
  readonly posteriorLogvar: Tensor;
  readonly prior: GlowFlow;
  readonly latentShape: [number, number, number];
  readonly stochasticEncoder: boolean = true;

  /** Use createFvae (or createModel), which check the config before anything is allocated. */
  constructor(readonly fconfig: FvaeConfig, o: ModelInitOptions = {}) {
    super(fconfig, fconfig.zDim, o);
    const f = fconfig.flow ?? defaultFvaeFlow(fconfig);
    const { shape, squeeze } = fvaeLatentShape(fconfig);
    this.latentShape = shape;
    this.posteriorLogvar = this.registerParameter('posterior_logvar', full([fconfig.zDim], 0));
    this.prior = this.registerModule('prior', new GlowFlow({ shape, squeeze, levels: f.levels, steps: f.steps, width: f.width, lu: f.lu, generator: o.generator }));
  }

  encode(x: Tensor): Posterior {
    const mu = this.encoder.forward(x); // (B, zDim)
    const logvar = expand(view(this.posteriorLogvar, [1, -1]), mu.shape); // (B, zDim)
    return { mu, logvar };
  }

  /** log p(w) under the flow prior, for codes (N, zDim) -> (N,). */
  logPrior(z: Tensor): Tensor {
    return this.prior.flowLogProb(reshape(z, [z.shape[0]!, ...this.latentShape])); // (N, C', H', W')
  }

  elboTerms(x: Tensor, generator?: Generator): ElboTerms {
    const { mu, logvar: lv } = this.encode(x);
    const logvar = lv!;
    const u = cpuNoise(mu.shape, mu.device, generator);
    const z = add(mu, mul(exp(mul(logvar, 0.5)), u));
    const logLik = this.logLikelihood(x, this.decode(z));
    // log q(w|x) = -1/2 sum(u^2 + logvar + log 2 pi)
    const logQ = mul(sum(add(add(square(u), logvar), LOG_2PI), 1), -0.5);
    const kl = sub(logQ, this.logPrior(z)); // single-sample KL(q(w|x) || p(w))
    return { logLik, kl, elbo: sub(logLik, kl) };
  }

  /** n codes w = F^-1(T eps) from the flow prior, (n, zDim). */
  override priorSample(n: number, opts: { temperature?: number; generator?: Generator } = {}): Tensor {
    const w = this.prior.reverse({ n, temperature: opts.temperature, generator: opts.generator, device: this.device });
    return reshape(w, [n, this.fconfig.zDim]); // (n, zDim)
  }
}

/** Builds an f-VAE on a device (default cpu) after checking its config. */
export function createFvae(config: FvaeConfig, opts: { generator?: Generator; device?: string } = {}): FVAE {
  const problems = fvaeConfigProblems(config);
  if (problems.length) throw new Error(`fvae config: ${problems.join('; ')}`);
  const m = new FVAE(config, { generator: opts.generator });
  const device = resolveDevice(opts.device);
  if (device !== 'cpu') m.to(device);
  return m;
}

const FVAE_CAPABILITIES: readonly ModelCapability[] = ['encode', 'posterior', 'decode', 'decoder-likelihood', 'sample', 'batchnorm'];

export const fvaeFamily: ModelFamily = {
  kind: 'fvae',
  title: 'f-VAE: VAE with a flow (Glow steps) on its latent, Gaussian decoder; --z-dim up to dim(x)',
  reference: 'Su & Wu, "f-VAEs: Improve VAEs with Conditional Flows", arXiv 1809.05861, 2018',
  capabilities: FVAE_CAPABILITIES,
  decoders: ['gaussian'],
  defaults: () => ({ ...DCGAN_DEFAULTS }),
  resolveConfig: (c) => ({ ...c, flow: c.flow ?? defaultFvaeFlow(c) }),
  configProblems: (c) => fvaeConfigProblems(c),
  create: (config, init) => new FVAE(config, init),
};
