// Decoder likelihoods p(x | z) of the model families, per sample in nats, over x in [0, 1]^(C x H x W).
//
//  gaussian:    N(x; mu, sigma^2) per pixel, a density over continuous x, including the -0.5*log(2*pi*sigma^2)
//               terms (so values are comparable to the seed's likelihoods and convertible to bits/dim).
//  bernoulli:   sum x*log(p) + (1-x)*log(1-p) with p = sigmoid(logits) and soft targets x (= -bce_with_logits).
//               Not a normalised density over continuous x: the seed's (and Nalisnick et al.'s) "Bernoulli VAE".
//  categorical: 256-way softmax per sub-pixel, the discrete log-probability of round(x*255) (Xiao et al. 2020,
//               Likelihood Regret's DCGAN-VAE: the decoder emits 256 logits per channel, cross-entropy on x*255).
import type { Tensor } from '../engine/tensor.js';
import {
  bceWithLogits, clamp, exp, gather, logSoftmax, mul, round, softmax, sigmoid, square, sub, sum, toDtype, unsqueeze,
  add, div, log, arange, reshape, view, permute,
} from '../engine/ops/index.js';
import type { DecoderType } from './types.js';

export const LOG_2PI = Math.log(2 * Math.PI);

/** Decoder output channels for an image with c channels. */
export function decoderOutChannels(decoder: DecoderType, c: number): number {
  return decoder === 'categorical' ? 256 * c : c;
}

/** Per-sample sum over every dimension but the first. */
export function sumPerSample(t: Tensor): Tensor {
  const s = t.shape;
  return s.length <= 1 ? t : sum(t, s.slice(1).map((_, i) => i + 1));
}

/**
 * Gaussian log-density per sample: -0.5 * sum[(x - mu)^2 / sigma2 + log(2 pi sigma2)].
 * logSigma2: a number (fixed variance) or a (C,) tensor (one learned log-variance per channel).
 */
export function gaussianLogLik(x: Tensor, mu: Tensor, logSigma2: number | Tensor): Tensor {
  const se = square(sub(x, mu)); // (B, C, H, W)
  if (typeof logSigma2 === 'number') {
    const per = x.numel / x.shape[0];
    // -0.5 * (SSE / sigma2 + D * (log 2pi + log sigma2))
    return sub(mul(sumPerSample(se), -0.5 / Math.exp(logSigma2)), 0.5 * per * (LOG_2PI + logSigma2));
  }
  const ls = view(logSigma2, [1, -1, 1, 1]); // (1, C, 1, 1)
  const terms = add(div(se, exp(ls)), add(ls, LOG_2PI)); // broadcast to (B, C, H, W)
  return mul(sumPerSample(terms), -0.5);
}

/** Bernoulli log-likelihood of x (as soft targets) under logits, per sample. */
export function bernoulliLogLik(x: Tensor, logits: Tensor): Tensor {
  return mul(sumPerSample(bceWithLogits(logits, x, { reduction: 'none' })), -1);
}

/** The 8-bit levels round(x*255) as int64, clamped to 0..255. */
export function pixelLevels(x: Tensor): Tensor {
  return toDtype(clamp(round(mul(x, 255)), 0, 255), 'int64');
}

/** Categorical log-probability of round(x*255) under logits (B, 256, C, H, W), per sample. */
export function categoricalLogLik(x: Tensor, logits: Tensor): Tensor {
  // The softmax runs over the 256 levels in the decoder's own memory order: categoricalLogits' (B, 256, C, H, W) is a
  // permuted view of a contiguous (B, C, 256, H, W), and libtorch's CPU log_softmax over a strided dim first copies
  // (0.63 s vs 0.45 s forward + backward at B = 64 on CIFAR-10, one thread; ~1.9 s of a 2.2 s training step is the
  // last transposed convolution and this).
  const lp = logSoftmax(permute(logits, [0, 2, 1, 3, 4]), 2); // (B, C, 256, H, W)
  const idx = unsqueeze(pixelLevels(x), 2); // (B, C, 1, H, W)
  return sumPerSample(gather(lp, 2, idx));
}

/** The mean image E[x] of a categorical decoder: sum_k p_k * k / 255, (B, C, H, W). */
export function categoricalMean(logits: Tensor): Tensor {
  const p = softmax(logits, 1); // (B, 256, C, H, W)
  const levels = reshape(div(toDtype(arange(256, { device: logits.device }), 'float32'), 255), [1, 256, 1, 1, 1]);
  return sum(mul(p, levels), 1);
}

/** Reshapes a categorical decoder's raw (B, 256*C, H, W) output to (B, 256, C, H, W) (channel-major groups, as Xiao et al.). */
export function categoricalLogits(raw: Tensor, c: number): Tensor {
  const [b, , h, w] = raw.shape;
  return permute(view(raw, [b, c, 256, h, w]), [0, 2, 1, 3, 4]);
}

/** Bernoulli mean image. */
export const bernoulliMean = (logits: Tensor): Tensor => sigmoid(logits);
/** Gaussian mean image (clamped to the data range for display and sampling). */
export const gaussianMean = (mu: Tensor): Tensor => clamp(mu, 0, 1);

/** KL(N(mu, exp(logvar)) || N(0, I)) per sample (B,), summed over z. */
export function klStdNormal(mu: Tensor, logvar: Tensor): Tensor {
  // -0.5 * sum(1 + logvar - mu^2 - exp(logvar))
  return mul(sum(sub(sub(add(logvar, 1), square(mu)), exp(logvar)), 1), -0.5);
}

/** log(x) guarded against 0 (for bits/dim of tiny probabilities). */
export const safeLog = (x: Tensor): Tensor => log(clamp(x, 1e-12, null));

/**
 * Bits per dimension of an 8-bit image (Theis, van den Oord & Bethge 2016, section 3.1): -log2 P(x8) / D for a
 * log-probability (nats) of the 8-bit image over D dimensions. Never a density: a Gaussian decoder's P(x8 | z) is
 * the density integrated over each level's bin (discretized-gaussian.ts, model.imageLogProb), and a Bernoulli
 * decoder with soft targets has none (image-probability.ts). scores/bpd.ts and train/evaluate.ts both use this.
 */
export function bitsPerDim(logProb: number, dims: number): number {
  return -logProb / (dims * Math.LN2);
}
