// The VAE family (Kingma & Welling 2014) on the DCGAN encoder/decoder: Gaussian posterior q(z|x) = N(mu, diag(exp
// logvar)), standard normal prior, and a decoder likelihood from likelihoods.ts (gaussian with a fixed or learned
// variance, bernoulli, or 256-way categorical). beta weights the KL term (beta-VAE; beta = 1 is the plain ELBO).
//
// PyTorch naming: children `encoder` and `decoder` (nn.Sequential, see dcgan.ts) and, for a learned Gaussian
// variance, a top-level parameter `log_sigma2` of shape (C,). The reference configuration (gaussian, c = 3, z = 128,
// width 64, 32x32, fixed variance) has exactly the state_dict of bench/pytorch/dcgan_vae.py.
import { Tensor } from '../engine/tensor.js';
import type { Generator } from '../engine/random.js';
import { add, chunkAll, exp, full, mul, randn, sub, mean as meanOp, stack as stackOp } from '../engine/ops/index.js';
import { Module } from '../nn/module.js';
import type { Sequential } from '../nn/sequential.js';
import { dcganDecoder, dcganEncoder } from './dcgan.js';
import {
  bernoulliLogLik, bernoulliMean, categoricalLogits, categoricalLogLik, categoricalMean, decoderOutChannels, gaussianLogLik,
  gaussianMean, klStdNormal,
} from './likelihoods.js';
import type { ElboTerms, LatentModel, ModelCapability, ModelConfig, ModelTrainer, Posterior, TrainableModel, TrainerOptions } from './types.js';
import { Adam } from '../optim/adam.js';
import type { ModelFamily } from './registry.js';
import { discretizedGaussianLogLik } from './discretized-gaussian.js';
import { OodgenError } from '../errors.js';

export interface ModelInitOptions {
  /** Seeds the parameter initialisation (default: libtorch's default generator). */
  generator?: Generator;
}

export type { ElboTerms } from './types.js';

/**
 * A training step's logged terms (0-d tensors) as numbers, read back in one transfer: on a GPU one host sync per
 * step instead of one per term. Same values as .item() on each.
 */
export function readTerms<K extends string>(terms: Record<K, Tensor>): Record<K, number> {
  const names = Object.keys(terms) as K[];
  const v = stackOp(names.map((k) => terms[k].detach().float().reshape([])));
  try {
    const data = v.data() as Float32Array;
    return Object.fromEntries(names.map((k, i) => [k, data[i]!])) as Record<K, number>;
  } finally {
    v.dispose();
  }
}

/**
 * Standard normal noise of a given shape drawn on the CPU from `generator` and moved to `device`; a device
 * generator (Generator.default('cuda'), what a CUDA-graph step uses) draws on the device instead.
 */
export function cpuNoise(shape: number[], device: string, generator?: Generator): Tensor {
  if (generator && generator.device !== 'cpu') return randn(shape, { generator, device });
  const e = randn(shape, generator ? { generator } : {});
  if (device === 'cpu') return e;
  const d = e.to(device);
  e.dispose();
  return d;
}

/** z = mu + exp(logvar / 2) * eps, with eps drawn on the CPU from generator (so a run's noise stream is reproducible and saveable on any device). */
export function reparameterize(mu: Tensor, logvar: Tensor, generator?: Generator): Tensor {
  const eps = cpuNoise(mu.shape, mu.device, generator);
  return add(mu, mul(exp(mul(logvar, 0.5)), eps));
}

/**
 * Shared machinery of every model family: the DCGAN pair, the decoder likelihood, sampling. Subclasses say whether
 * the code is stochastic (VAE, Soft-IntroVAE) or deterministic (AE).
 */
export abstract class LatentBase extends Module implements LatentModel, TrainableModel {
  readonly encoder: Sequential;
  readonly decoder: Sequential;
  /** The learned per-channel Gaussian log-variance (`log_sigma2`), or null. */
  readonly logSigma2: Tensor | null;

  protected constructor(readonly config: ModelConfig, encoderOut: number, o: ModelInitOptions = {}) {
    super();
    const { channels, zDim, width, imageSize, decoder } = config;
    const sigma2 = config.sigma2 ?? 1;
    if (decoder === 'gaussian' && sigma2 === 'learned') {
      this.logSigma2 = this.registerParameter('log_sigma2', full([channels], 0));
    } else {
      this.logSigma2 = null;
      if (decoder === 'gaussian' && !(typeof sigma2 === 'number' && sigma2 > 0 && Number.isFinite(sigma2))) {
        throw new Error(`gaussian decoder: sigma2 must be a positive number or 'learned', got ${sigma2}`);
      }
    }
    const dc = { channels, zDim, width, imageSize, encoderOut, generator: o.generator };
    this.encoder = this.registerModule('encoder', dcganEncoder(dc));
    this.decoder = this.registerModule('decoder', dcganDecoder({ ...dc, outChannels: decoderOutChannels(decoder, channels) }));
  }

  abstract encode(x: Tensor): Posterior;

  get capabilities(): readonly ModelCapability[] {
    const all: ModelCapability[] = ['encode', 'posterior', 'decode', 'decoder-likelihood', 'sample', 'batchnorm'];
    return this.stochasticEncoder ? all : all.filter((c) => c !== 'posterior');
  }

  /** Whether encode() returns a log-variance (a posterior q(z|x)) or a point code (AE). */
  abstract readonly stochasticEncoder: boolean;

  /** The BatchNorm layers by part, for the BatchNorm modes of scoring (src/scores/bn-mode.ts). */
  batchNormGroups(): Record<string, Module> {
    return { encoder: this.encoder, decoder: this.decoder };
  }

  /** The default training step: one Adam over all parameters on the (beta-)ELBO loss (loss()). */
  createTrainer(o: TrainerOptions): ModelTrainer {
    const opt = new Adam(this.parameters(), { lr: o.lr, betas: o.betas, capturable: o.capturable });
    const stepTensors = (x: Tensor, generator: Generator) => {
      opt.zeroGrad();
      const { loss, terms } = this.loss(x, generator);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      return { loss, rec: terms.rec!, kl: terms.kl!, elbo: terms.elbo! };
    };
    return {
      optimizers: { main: opt },
      stepTensors,
      step: (x, generator) => readTerms(stepTensors(x, generator)),
      dispose: () => opt.dispose(),
    };
  }

  get continuousLikelihood(): boolean {
    return this.config.decoder === 'gaussian';
  }

  /** The fixed log-variance, or the learned tensor. */
  protected gaussianLogSigma2(): number | Tensor {
    if (this.logSigma2) return this.logSigma2;
    return Math.log(typeof this.config.sigma2 === 'number' ? this.config.sigma2 : 1);
  }

  decode(z: Tensor): Tensor {
    const raw = this.decoder.forward(z);
    if (this.config.decoder !== 'categorical') return raw;
    const out = categoricalLogits(raw, this.config.channels);
    raw.dispose();
    return out;
  }

  logLikelihood(x: Tensor, decoded: Tensor): Tensor {
    switch (this.config.decoder) {
      case 'gaussian': return gaussianLogLik(x, decoded, this.gaussianLogSigma2());
      case 'bernoulli': return bernoulliLogLik(x, decoded);
      case 'categorical': return categoricalLogLik(x, decoded);
    }
  }

  /**
   * Why this model has no probability of the 8-bit image (so no bits/dim), or null when it has one
   * (imageLogProb). The Bernoulli decoder with soft targets is not a normalised distribution over the 256 levels.
   */
  get imageProbabilityProblem(): string | null {
    return this.config.decoder === 'bernoulli'
      ? 'the Bernoulli decoder with soft targets (sum x log p + (1 - x) log(1 - p)) is not a normalised probability of the 8-bit image, so it has no bits/dim; use a gaussian or categorical decoder, or report the ELBO / IWAE in nats'
      : null;
  }

  /**
   * log P(x8 | z) per sample (B,), nats: the probability of the 8-bit image round(255 x) under the decoder.
   * gaussian: each level's bin [k/256, (k+1)/256) integrated, outer bins open (discretized-gaussian.ts);
   * categorical: the 256-way softmax itself. An ELBO or IWAE built on it bounds log P(x8), so bits/dim is honest.
   */
  imageLogProb(x: Tensor, decoded: Tensor): Tensor {
    switch (this.config.decoder) {
      case 'gaussian': return discretizedGaussianLogLik(x, decoded, this.gaussianLogSigma2());
      case 'categorical': return categoricalLogLik(x, decoded);
      case 'bernoulli': throw new OodgenError(this.imageProbabilityProblem!);
    }
  }

  mean(decoded: Tensor): Tensor {
    switch (this.config.decoder) {
      case 'gaussian': return gaussianMean(decoded);
      case 'bernoulli': return bernoulliMean(decoded);
      case 'categorical': return categoricalMean(decoded);
    }
  }

  /** The code used for a reconstruction: the posterior mean. */
  code(x: Tensor): Tensor {
    const p = this.encode(x);
    p.logvar?.dispose();
    return p.mu;
  }

  /** n codes (n, zDim) from the prior at temperature t: N(0, t^2 I) here; a family with its own prior overrides it. */
  priorSample(n: number, opts: { temperature?: number; generator?: Generator } = {}): Tensor {
    return mul(cpuNoise([n, this.config.zDim], this.device, opts.generator), opts.temperature ?? 1);
  }

  sample(n: number, opts: { temperature?: number; generator?: Generator } = {}): Tensor {
    return this.mean(this.decode(this.priorSample(n, opts)));
  }

  /** Mean reconstruction of x through the posterior mean, (B, C, H, W) in [0, 1]. */
  reconstruct(x: Tensor): Tensor {
    return this.mean(this.decode(this.code(x)));
  }

  /** The ELBO pieces at one posterior sample (the posterior mean for an AE). */
  abstract elboTerms(x: Tensor, generator?: Generator, o?: { image?: boolean }): ElboTerms;

  /**
   * The training loss (a scalar): -mean(logLik - beta * KL) over the batch, and its terms as batch means
   * (loss, rec = -logLik, kl, elbo).
   */
  loss(x: Tensor, generator?: Generator): { loss: Tensor; terms: Record<string, Tensor> } {
    const { logLik, kl, elbo } = this.elboTerms(x, generator);
    const beta = this.config.beta ?? 1;
    const loss = mul(meanOp(sub(logLik, mul(kl, beta))), -1);
    return { loss, terms: { rec: mul(meanOp(logLik), -1), kl: meanOp(kl), elbo: meanOp(elbo) } };
  }

  forward(x: Tensor): Tensor {
    return this.reconstruct(x);
  }
}

export class VAE extends LatentBase {
  readonly stochasticEncoder: boolean = true;
  constructor(config: ModelConfig, o: ModelInitOptions = {}) {
    super(config, 2 * config.zDim, o);
  }

  encode(x: Tensor): Posterior {
    const h = this.encoder.forward(x);
    const [mu, logvar] = chunkAll(h, 2, 1);
    h.dispose();
    return { mu, logvar };
  }

  elboTerms(x: Tensor, generator?: Generator, o: { image?: boolean } = {}): ElboTerms {
    const { mu, logvar } = this.encode(x);
    const z = reparameterize(mu, logvar!, generator);
    const dec = this.decode(z);
    const logLik = o.image ? this.imageLogProb(x, dec) : this.logLikelihood(x, dec);
    const kl = klStdNormal(mu, logvar!);
    return { logLik, kl, elbo: sub(logLik, kl) };
  }
}


/** Defaults of the DCGAN VAE and AE (Chen 2021's seed setup): z 32, width 64, batch 64, Adam lr 1e-3. */
export const DCGAN_DEFAULTS = { zDim: 32, width: 64, batchSize: 64, lr: 1e-3, hyper: null };

export const vaeFamily: ModelFamily = {
  kind: 'vae',
  title: 'variational autoencoder on the DCGAN encoder/decoder (beta-VAE with --beta)',
  reference: 'Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014',
  capabilities: ['encode', 'posterior', 'decode', 'decoder-likelihood', 'sample', 'batchnorm'],
  decoders: ['gaussian', 'categorical', 'bernoulli'],
  defaults: () => ({ ...DCGAN_DEFAULTS }),
  create: (config, init) => new VAE(config, init),
};
