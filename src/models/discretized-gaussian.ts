// The probability of an 8-bit image under a Gaussian decoder: each sub-pixel's density integrated over its bin.
//
// The Gaussian decoder is a density over continuous x. It is trained on dequantized pixels x' = (k + u) / 256,
// u ~ U[0, 1) (src/train), so level k in 0..255 owns the bin [k/256, (k+1)/256). The probability of level k is
//
//   P(k | mu, sigma) = Phi((k+1)/256 - mu) / sigma) - Phi((k/256 - mu) / sigma),
//
// with the two outer bins extended to -inf (k = 0) and +inf (k = 255) so the 256 probabilities sum to one
// (the discretized likelihood of Kingma et al. 2016 / Salimans et al. 2017, PixelCNN++, with a Gaussian in place of
// the logistic; Ho et al. 2019 discuss it against dequantization). log P(x | z) summed over the image is a log
// probability mass, so an ELBO or IWAE built on it bounds log P(x) of the 8-bit image and bits/dim is plainly
// -log2 P(x) / D. Inputs that are not on the 8-bit grid (resized images) are first quantized to round(255 x).
//
// Numerics: log(Phi(b) - Phi(a)) is taken as log_ndtr(b) + log(-expm1(log_ndtr(a) - log_ndtr(b))), on the side of
// the mode where both CDFs are below 1/2 (Phi(b) - Phi(a) = Phi(-a) - Phi(-b)), in float64: both tails stay finite.
import type { Tensor } from '../engine/tensor.js';
import { add, clamp, div, exp, expm1, gt, log, logNdtr, mul, neg, round, sub, toDtype, view, where, fullLike } from '../engine/ops/index.js';
import { sumPerSample } from './likelihoods.js';

/** Elementwise log(Phi(b) - Phi(a)) for a < b (either may be infinite), stable in both tails. */
export function logNormalCdfDiff(a: Tensor, b: Tensor): Tensor {
  // Above the mode (a + b > 0) use Phi(b) - Phi(a) = Phi(-a) - Phi(-b), so both log-CDFs are of arguments <= ~0.
  // a + b is NaN only for (-inf, +inf), a single bin covering the line, which 256 levels never produce.
  const flip = gt(add(a, b), 0);
  const lo = where(flip, neg(b), a);
  const hi = where(flip, neg(a), b);
  const lhi = logNdtr(hi);
  const d = sub(logNdtr(lo), lhi); // <= 0; -inf when lo = -inf
  return add(lhi, log(neg(expm1(d))));
}

/**
 * log P(x | mu, sigma) per sample (B,), in nats: the discretized Gaussian probability of the 8-bit levels
 * round(255 x) of x (B, C, H, W), with decoder means mu (B, C, H, W) and log-variance logSigma2 (a number, or a
 * (C,) tensor of per-channel log-variances). Computed in float64; returns float32.
 */
export function discretizedGaussianLogLik(x: Tensor, mu: Tensor, logSigma2: number | Tensor): Tensor {
  const k = toDtype(clamp(round(mul(x, 255)), 0, 255), 'float64'); // (B, C, H, W) levels
  const m = toDtype(mu, 'float64');
  const invSigma = typeof logSigma2 === 'number'
    ? Math.exp(-0.5 * logSigma2)
    : view(exp(mul(toDtype(logSigma2, 'float64'), -0.5)), [1, -1, 1, 1]); // (1, C, 1, 1)
  const inf = fullLike(k, Infinity);
  const lowerEdge = where(gt(k, 0.5), div(k, 256), neg(inf)); // k = 0: -inf
  const upperEdge = where(gt(k, 254.5), inf, div(add(k, 1), 256)); // k = 255: +inf
  const a = mul(sub(lowerEdge, m), invSigma);
  const b = mul(sub(upperEdge, m), invSigma);
  return toDtype(sumPerSample(logNormalCdfDiff(a, b)), 'float32');
}
