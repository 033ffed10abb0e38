// Shared pieces of the latent-variable scores: Gaussian log-densities, reparameterised posterior samples drawn
// from a seeded generator, and bounded-memory decoding of many codes. Everything here runs under the caller's
// tidy/noGrad; functions return tensors the caller owns.
import {
  Tensor, Generator, add, mul, exp, square, sum, randn, unsqueeze, expand, reshape, narrow, cat, tidy,
} from '../engine/index.js';
import type { LatentModel, Posterior } from '../models/types.js';
import { OodgenError } from '../errors.js';
import { imageProbabilityProblem } from '../models/image-probability.js';

export const LOG_2PI = Math.log(2 * Math.PI);

/** A Gaussian posterior: mu and logvar both (B, Z). Throws a clear error for a deterministic AE. */
export function gaussianPosterior(post: Posterior, score: string): { mu: Tensor; logvar: Tensor } {
  if (post.logvar === null) {
    throw new OodgenError(`score '${score}' needs a stochastic encoder q(z|x); this model is a deterministic autoencoder: use the 'rec' score`);
  }
  return { mu: post.mu, logvar: post.logvar };
}

/** A model whose prior p(z) is not N(0, I) (f-VAE's flow prior) has logPrior(z): (N, Z) -> (N,). */
type WithPrior = { logPrior?: (z: Tensor) => Tensor };

/** Whether the model has its own prior density (otherwise p(z) = N(0, I)). */
export const hasOwnPrior = (model: LatentModel): boolean => typeof (model as WithPrior).logPrior === 'function';

/** log p(z) of codes z (n, B, Z) -> (n, B): the model's own prior when it has one, else N(0, I). */
export function logPriorOfCodes(model: LatentModel, z: Tensor): Tensor {
  const own = (model as WithPrior).logPrior;
  if (!own) return logStandardNormal(z);
  const [n, b, zd] = z.shape as [number, number, number];
  return reshape(own.call(model, reshape(z, [n * b, zd])), [n, b]);
}

/** log N(z; 0, I) summed over the last dimension: -1/2 sum(z^2 + log 2 pi). */
export function logStandardNormal(z: Tensor): Tensor {
  return mul(sum(add(square(z), LOG_2PI), -1), -0.5);
}

/**
 * log q(z|x) of z = mu + exp(logvar/2) * eps, from eps directly (exact and cheaper than from z):
 * -1/2 sum(eps^2 + logvar + log 2 pi). eps (..., B, Z), logvar (B, Z) broadcast.
 */
export function logPosteriorFromEps(eps: Tensor, logvar: Tensor): Tensor {
  return mul(sum(add(add(square(eps), logvar), LOG_2PI), -1), -0.5);
}

/** Analytic E_q[log p(z)] = -1/2 sum(mu^2 + sigma^2 + log 2 pi), per sample (B,). */
export function expectedLogPrior(mu: Tensor, logvar: Tensor): Tensor {
  return mul(sum(add(add(square(mu), exp(logvar)), LOG_2PI), -1), -0.5);
}

/** Analytic entropy of q: -E_q[log q(z|x)] = 1/2 sum(1 + logvar + log 2 pi), per sample (B,). */
export function posteriorEntropy(logvar: Tensor): Tensor {
  return mul(sum(add(logvar, 1 + LOG_2PI), -1), 0.5);
}

/** Source of standard-normal noise: a seeded CPU generator (moved to the model's device), or given tensors. */
export class Noise {
  private readonly gen: Generator;
  constructor(readonly seed: number) {
    this.gen = Generator.cpu(seed);
  }
  /** Standard normal samples of `shape` on `device` (drawn on the CPU so every device gets the same numbers). */
  randn(shape: number[], device: string): Tensor {
    const e = randn(shape, { generator: this.gen });
    return device === 'cpu' ? e : e.to(device);
  }
}

/**
 * How many codes one decode call may hold: about 256 MiB of float32 activations. Per code the DCGAN decoder holds
 * roughly 3 copies (conv, BatchNorm, ReLU) of 4w*16 + 2w*(s/4)^2 + w*(s/2)^2 values, plus its output and, for the
 * categorical decoder, the 256-way logits and their log-softmax.
 */
export function defaultDecodeBatch(model: LatentModel): number {
  const c = model.config;
  const s = c.imageSize;
  const w = c.width;
  const pixels = c.channels * s * s;
  const hidden = 3 * (4 * w * 16 + 2 * w * (s / 4) ** 2 + w * (s / 2) ** 2);
  const output = c.decoder === 'categorical' ? 3 * 256 * pixels : 3 * pixels;
  return Math.max(1, Math.floor((64 * 1024 * 1024) / (hidden + output)));
}

/** x (B, C, H, W) repeated n times along a new leading axis and flattened to (n*B, C, H, W). */
export function repeatBatch(x: Tensor, n: number): Tensor {
  if (n === 1) return x;
  const s = x.shape;
  return reshape(expand(unsqueeze(x, 0), [n, ...s]), [n * s[0]!, ...s.slice(1)]);
}

/**
 * log p(x | z) for n codes per image: z (n, B, Z) -> (n, B). Decodes all n*B codes in one call, so the caller
 * bounds n (see defaultDecodeBatch). image: log P(x8 | z) of the 8-bit image (model.imageLogProb) instead of the
 * decoder's own likelihood (a density for a Gaussian decoder).
 */
export function logLikelihoodOfCodes(model: LatentModel, x: Tensor, z: Tensor, image = false): Tensor {
  const [n, b, zd] = z.shape as [number, number, number];
  const dec = model.decode(reshape(z, [n * b, zd]));
  const xs = repeatBatch(x, n);
  if (image) {
    const problem = imageProbabilityProblem(model);
    if (problem) throw new OodgenError(problem);
  }
  return reshape(image ? model.imageLogProb!(xs, dec) : model.logLikelihood(xs, dec), [n, b]); // (n, B)
}

/** z = mu + exp(logvar/2) * eps for eps (n, B, Z). */
export function reparameterise(mu: Tensor, logvar: Tensor, eps: Tensor): Tensor {
  return add(mu, mul(exp(mul(logvar, 0.5)), eps));
}


/** Noise for n posterior samples per image: a seeded source, or fixed eps (n, B, Z) (tests, oracles). */
export type EpsSource = Noise | Tensor;

export interface SampleTerms {
  /** log p(x | z_k), (n, B). */
  logPx: Tensor;
  /** log p(z_k) under the prior (N(0, I), or the model's own logPrior), (n, B). */
  logPz: Tensor;
  /** log q(z_k | x), (n, B). */
  logQz: Tensor;
}

/**
 * The three log-densities of n reparameterised posterior samples per image, decoding at most `decodeBatch` codes
 * at a time (so K = 50 samples of a categorical decoder fit in memory). Chunks are drawn in order from the noise
 * source, so the result does not depend on decodeBatch when the noise is fixed.
 */
export function sampleTerms(
  model: LatentModel, x: Tensor, mu: Tensor, logvar: Tensor, n: number, source: EpsSource, decodeBatch: number, image = false,
): SampleTerms {
  const [b, zd] = mu.shape as [number, number];
  if (source instanceof Tensor) {
    const s = source.shape;
    if (s.length !== 3 || s[0]! < n || s[1] !== b || s[2] !== zd) {
      throw new OodgenError(`eps has shape [${s.join(', ')}], expected [${n}, ${b}, ${zd}]`);
    }
  }
  const per = Math.max(1, Math.min(n, Math.floor(decodeBatch / b)));
  const parts: SampleTerms[] = [];
  for (let k0 = 0; k0 < n; k0 += per) {
    const m = Math.min(per, n - k0);
    parts.push(tidy(() => {
      const eps = source instanceof Tensor ? narrow(source, 0, k0, m) : source.randn([m, b, zd], mu.device);
      const z = reparameterise(mu, logvar, eps);
      return { logPx: logLikelihoodOfCodes(model, x, z, image), logPz: logPriorOfCodes(model, z), logQz: logPosteriorFromEps(eps, logvar) };
    }));
  }
  if (parts.length === 1) return parts[0]!;
  return {
    logPx: cat(parts.map((p) => p.logPx), 0),
    logPz: cat(parts.map((p) => p.logPz), 0),
    logQz: cat(parts.map((p) => p.logQz), 0),
  };
}

/** A (B,) float tensor as a Float32Array. */
export function toF32(t: Tensor): Float32Array {
  return t.toFloat32Array();
}

/** -v elementwise, as a new array. */
export function negated(v: Float32Array): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = -v[i]!;
  return out;
}
