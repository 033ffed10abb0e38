// The contract between model families (src/models) and the detectors that score them (src/scores).
//
// A model is described by what it can do (its capabilities), not by its family: a detector declares the
// capabilities it needs (src/scores/types.ts DetectorSpec.needs) and works with every model that has them. The
// DCGAN families (AE, VAE, Soft-IntroVAE) are LatentModels; a flow or an autoregressive model implements
// GenerativeModel with 'log-likelihood' (logProb) and no encoder.
import type { Tensor } from '../engine/tensor.js';
import type { Module } from '../nn/module.js';
import type { Generator } from '../engine/random.js';

/** What a model can do, each with the member that provides it. */
export const MODEL_CAPABILITIES = {
  encode: 'encode(x) -> posterior mean (a code per image)',
  posterior: 'a stochastic Gaussian encoder q(z|x): encode(x) also returns the log-variance',
  decode: 'decode(z) and mean(decoded): images from codes',
  'decoder-likelihood': 'logLikelihood(x, decoded) = log p(x|z) per image, nats',
  'log-likelihood': 'logProb(x) = exact log p(x) per image, nats (flows, autoregressive models)',
  likelihood: 'log p(x) per image, exact (log-likelihood) or bounded by the ELBO / IWAE (encode, posterior, decode and decoder-likelihood together); derived, never listed by a model',
  sample: 'sample(n) from the prior',
  batchnorm: 'batchNormGroups(): the BatchNorm layers by part (encoder, decoder), for BatchNorm modes',
} as const;
export type ModelCapability = keyof typeof MODEL_CAPABILITIES;

/**
 * A model family's registry key (config.kind): 'ae', 'vae', 'sintro' are built in; a family registered with
 * registerModel (src/models/registry.ts) adds its own.
 */
export type ModelKind = 'ae' | 'vae' | 'sintro' | (string & {});
export type DecoderType = 'gaussian' | 'categorical' | 'bernoulli';

export interface ModelConfig {
  kind: ModelKind;
  decoder: DecoderType;
  channels: number;
  imageSize: 32 | 28;
  zDim: number;
  width: number;
  /**
   * Gaussian decoder: a fixed variance sigma^2 (default 1; Soft-IntroVAE 0.5, what its SSE loss implies), or 'learned'
   * (one log-variance per channel, the parameter `log_sigma2` of shape (C,)).
   */
  sigma2?: number | 'learned';
  /** KL weight (beta-VAE); Soft-IntroVAE's beta_kl. */
  beta?: number;
  /** Flow sizes of the families with a flow (glow: the model; fvae: its prior), filled by the family's resolveConfig. */
  flow?: FlowSizes;
}

/** Sizes of a Glow-style multi-scale flow (src/models/glow.ts). */
export interface FlowSizes {
  /** Levels L (squeeze, K steps, split). */
  levels: number;
  /** Steps of flow K per level. */
  steps: number;
  /** Hidden channels of the coupling networks. */
  width: number;
  /** LU-parameterised invertible 1x1 convolutions. */
  lu: boolean;
}

/** Output of the encoder: posterior mean and log-variance (logvar null for a deterministic AE). */
export interface Posterior {
  mu: Tensor; // (B, z)
  logvar: Tensor | null; // (B, z)
}

/**
 * Any generative image model over x in [0, 1]^(C x H x W): what every detector and the evaluation pipeline can rely
 * on. The optional members exist exactly when the model has the matching capability (MODEL_CAPABILITIES).
 */
export interface GenerativeModel extends Module {
  readonly config: ModelConfig;
  /** What this model can do; when absent it is inferred from the members present (src/models/capabilities.ts). */
  readonly capabilities?: readonly ModelCapability[];
  /** Exact log p(x) per image (B,), nats ('log-likelihood'). */
  logProb?(x: Tensor): Tensor;
  /**
   * A flow's change of variables behind logProb: log p(z) of the latent under its prior and log |det df/dx|, each
   * (B,), nats, summing to logProb(x) (DoSE's statistics of a flow).
   */
  logProbTerms?(x: Tensor): { logpz: Tensor; logdet: Tensor };
  /** The model's BatchNorm layers grouped by part, e.g. { encoder, decoder } ('batchnorm'). */
  batchNormGroups?(): Record<string, Module>;
}

/**
 * A latent-variable image model over x in [0, 1]^(C x H x W), with capabilities encode, decode,
 * decoder-likelihood, sample and batchnorm (and posterior when the encoder is stochastic).
 * Every DCGAN family (AE, VAE, Soft-IntroVAE) implements this.
 */
export interface LatentModel extends GenerativeModel {
  readonly config: ModelConfig;
  readonly encoder: Module;
  readonly decoder: Module;
  encode(x: Tensor): Posterior;
  /** The decoder's raw output for codes z (B, z): means for Gaussian, logits for Bernoulli, (B, 256, C, H, W) logits for categorical. */
  decode(z: Tensor): Tensor;
  /**
   * log p(x | z) per sample (B,), in nats, of the decoder's likelihood:
   * Gaussian: density of continuous x, including the -0.5 * log(2 pi sigma^2) terms; Bernoulli: the plain Bernoulli
   * log-likelihood with x as soft targets, sum x log p + (1 - x) log(1 - p) (= -bce_with_logits; not the continuous
   * Bernoulli, so not normalised over continuous x); categorical: discrete log-probability of round(x * 255).
   */
  logLikelihood(x: Tensor, decoded: Tensor): Tensor;
  /**
   * Whether logLikelihood is a density over continuous x (true: gaussian; trained on dequantized x) or not (false:
   * categorical, a discrete probability; bernoulli, a pseudo-likelihood). Bits/dim never come from the density:
   * they use imageLogProb.
   */
  readonly continuousLikelihood: boolean;
  /**
   * log P(x8 | z) per sample (B,), nats: the probability of the 8-bit image round(255 x) (gaussian: the
   * discretized Gaussian of each level's bin; categorical: its softmax). What bits/dim are computed from. Absent, or
   * throwing, when imageProbabilityProblem says why there is none.
   */
  imageLogProb?(x: Tensor, decoded: Tensor): Tensor;
  /** Why the model has no probability of the 8-bit image (Bernoulli soft targets, a deterministic AE), or null. */
  readonly imageProbabilityProblem?: string | null;
  /** The decoder's mean image in [0, 1] (B, C, H, W). */
  mean(decoded: Tensor): Tensor;
  /**
   * Random images from the prior (B, C, H, W) in [0, 1], decoder means, with latent temperature t (z ~ N(0, t^2 I)).
   * Noise is drawn on the CPU from the generator and moved to the model's device. For good samples adapt the
   * decoder's BatchNorm statistics first (src/train/bn-adapt.ts).
   */
  sample(n: number, opts?: { temperature?: number; generator?: Generator }): Tensor;
}

/** Per-sample pieces of the (beta-)ELBO, each (B,), nats. For a model with an exact likelihood: logLik = elbo = log p(x), kl = 0. */
export interface ElboTerms {
  /** log p(x|z) at one posterior sample (an exact model: log p(x)). */
  logLik: Tensor;
  /** KL(q(z|x) || p(z)) (zeros for an AE or an exact model). */
  kl: Tensor;
  /** logLik - kl: the ELBO (beta = 1). */
  elbo: Tensor;
}

/** What the trainer gives a model to build its optimisers. */
export interface TrainerOptions {
  lr: number;
  betas: [number, number];
  /** Family-specific training hyper-parameters (ModelFamily.defaults().hyper, overridden by the user), or null. */
  hyper: Record<string, number> | null;
  /** Adam with capturable=True semantics (optim/adam.ts), for a step captured in a CUDA graph. */
  capturable?: boolean;
}

/** An optimiser as the trainer saves and restores it (src/optim's Adam). */
export interface TrainerOptimizer {
  stateDict(): { tensors: Map<string, Tensor>; meta: Record<string, number | string | boolean> };
  loadStateDict(s: { tensors: Map<string, Tensor>; meta: Record<string, number | string | boolean> }): void;
  dispose(): void;
}

/** A model's own training step: its optimisers (saved by name in optimizer.safetensors) and one update. */
export interface ModelTrainer {
  /** Named optimisers; the names are the keys in optimizer.safetensors, so they must stay stable for resume. */
  readonly optimizers: Record<string, TrainerOptimizer>;
  /**
   * One optimisation step on a batch (B, C, H, W) in [0, 1] (dequantized when the run says so); noise from
   * `generator` only, in a fixed order, so runs are reproducible and resumable. Runs inside the trainer's tidy().
   * Returns the logged numbers; `loss` is required.
   */
  step(x: Tensor, generator: Generator): { loss: number } & Record<string, number>;
  /**
   * The same step, returning the logged terms as 0-d tensors on the model's device without reading them (no host
   * synchronisation): what a CUDA-graph capture records (train/graphed-step.ts). Families without it train eagerly.
   */
  stepTensors?(x: Tensor, generator: Generator): { loss: Tensor } & Record<string, Tensor>;
  dispose(): void;
}

/** A model the trainer can train (every registered family): its own training step and a validation bound. */
export interface TrainableModel extends GenerativeModel {
  /** Whether its likelihood is a density over continuous x (trained on dequantized x). */
  readonly continuousLikelihood: boolean;
  /**
   * Per-sample validation terms (one posterior sample; noise from generator). With image: true, logLik is
   * log P(x8 | z) of the 8-bit image (imageLogProb), so the ELBO bounds log P(x8) and gives bits/dim.
   */
  elboTerms(x: Tensor, generator?: Generator, o?: { image?: boolean }): ElboTerms;
  /** Why the model has no probability of the 8-bit image (so no bits/dim), or null / absent when it has one. */
  readonly imageProbabilityProblem?: string | null;
  /** Its optimisers and training step (Soft-IntroVAE: two optimisers, encoder and decoder). */
  createTrainer(o: TrainerOptions): ModelTrainer;
}
