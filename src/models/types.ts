// The contract between model families (src/models) and the detectors that score them (src/scores).
import type { Tensor } from '../engine/tensor.js';
import type { Module } from '../nn/module.js';
import type { Generator } from '../engine/random.js';

export type ModelKind = 'ae' | 'vae' | 'sintro';
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
}

/** Output of the encoder: posterior mean and log-variance (logvar null for a deterministic AE). */
export interface Posterior {
  mu: Tensor; // (B, z)
  logvar: Tensor | null; // (B, z)
}

/**
 * A latent-variable image model over x in [0, 1]^(C x H x W).
 * Every family (AE, VAE, Soft-IntroVAE) implements this, so every score works with every model.
 */
export interface LatentModel extends Module {
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
   * Whether logLikelihood is a density over continuous x (true: gaussian; compare on dequantized x, bits/dim get
   * + 8) or not (false: categorical, a discrete probability; bernoulli, a pseudo-likelihood).
   */
  readonly continuousLikelihood: boolean;
  /** The decoder's mean image in [0, 1] (B, C, H, W). */
  mean(decoded: Tensor): Tensor;
  /**
   * Random images from the prior (B, C, H, W) in [0, 1], decoder means, with latent temperature t (z ~ N(0, t^2 I)).
   * Noise is drawn on the CPU from the generator and moved to the model's device. For good samples adapt the
   * decoder's BatchNorm statistics first (src/train/bn-adapt.ts).
   */
  sample(n: number, opts?: { temperature?: number; generator?: Generator }): Tensor;
}
