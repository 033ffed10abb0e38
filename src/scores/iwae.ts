// Importance-weighted log-likelihood (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders",
// eq. 8; the estimator the seed uses for "log-likelihood", Chen 2021 section 3.2):
//
//   log p(x) ~= L_K(x) = log (1/K) sum_{k=1..K} p(x|z_k) p(z_k) / q(z_k|x),   z_k ~ q(z|x)
//             = logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K
//
// E[L_K] is a lower bound on log p(x) that increases with K and tends to log p(x) as K -> infinity; L_1 is the
// single-sample ELBO. The K samples are decoded in chunks of at most `decodeBatch` codes (so K = 50 for 10,000
// images of a categorical decoder needs memory for one chunk only), and the noise comes from a seeded generator,
// so a run is reproducible. Score = -L_K (higher = more OoD); columns keep L_K ('loglik') and the K-sample
// Monte-Carlo ELBO mean_k log w_k ('elbo_mc', from the same samples, free).
import { Tensor, tidy, noGrad, logsumexp, mean, sub, add } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import type { Detector, DetectorSpec, ScoreBatch } from './types.js';
import { Noise, type EpsSource, defaultDecodeBatch, gaussianPosterior, negated, sampleTerms } from './latent.js';
import { OodgenError } from '../errors.js';

export interface IwaeOptions {
  /** Importance samples K (the seed uses 5 and 50). */
  k: number;
  /** Seed of the noise generator (default 0). */
  seed?: number;
  /** Codes decoded at once; bounds memory (default: about 256 MiB of decoder activations, see defaultDecodeBatch). */
  decodeBatch?: number;
  /** log P(x8 | z) of the 8-bit image (model.imageLogProb) instead of the decoder's likelihood (bits/dim). */
  image?: boolean;
}

/** The log importance weights log p(x|z_k) + log p(z_k) - log q(z_k|x), shape (K, B). */
export function iwaeLogWeights(model: LatentModel, x: Tensor, o: Omit<IwaeOptions, 'seed'> & { eps: EpsSource }): Tensor {
  if (!Number.isInteger(o.k) || o.k < 1) throw new OodgenError(`IWAE needs K >= 1 importance samples, got ${o.k}`);
  return noGrad(() => tidy(() => {
    const { mu, logvar } = gaussianPosterior(model.encode(x), 'iwae');
    const t = sampleTerms(model, x, mu, logvar, o.k, o.eps, o.decodeBatch ?? defaultDecodeBatch(model), o.image ?? false);
    return add(sub(t.logPx, t.logQz), t.logPz);
  }));
}

/** L_K per image (B,) in nats, and the K-sample ELBO estimate from the same samples. */
export function iwaeLogLikelihood(
  model: LatentModel, x: Tensor, o: IwaeOptions & { eps?: EpsSource },
): { logLikelihood: Tensor; elbo: Tensor } {
  return tidy(() => {
    const w = iwaeLogWeights(model, x, { k: o.k, decodeBatch: o.decodeBatch, image: o.image, eps: o.eps ?? new Noise(o.seed ?? 0) });
    return { logLikelihood: sub(logsumexp(w, 0), Math.log(o.k)), elbo: mean(w, 0) };
  });
}

export class IwaeDetector implements Detector {
  readonly name: string = 'iwae';
  readonly description: string;
  private readonly noise: Noise;
  constructor(readonly model: LatentModel, readonly opts: IwaeOptions) {
    if (!Number.isInteger(opts.k) || opts.k < 1) throw new OodgenError(`IWAE needs K >= 1 importance samples, got ${opts.k}`);
    this.noise = new Noise(opts.seed ?? 0);
    this.description = `negative IWAE log-likelihood, -[logsumexp_k(log p(x|z_k) + log p(z_k) - log q(z_k|x)) - log K], K = ${opts.k} (Burda et al. 2016), nats`;
  }
  /** Columns: loglik (L_K, nats), elbo_mc (mean of the K log weights). */
  evaluate(x: Tensor): ScoreBatch {
    return tidy(() => {
      const r = iwaeLogLikelihood(this.model, x, { ...this.opts, eps: this.noise });
      const ll = r.logLikelihood.toFloat32Array();
      return { score: negated(ll), columns: { loglik: ll, elbo_mc: r.elbo.toFloat32Array() } };
    });
  }
  score(x: Tensor): Float32Array {
    return this.evaluate(x).score;
  }
  settings(): Record<string, unknown> {
    return { k: this.opts.k, seed: this.opts.seed ?? 0, decodeBatch: this.opts.decodeBatch ?? defaultDecodeBatch(this.model) };
  }
}

export const iwaeSpec: DetectorSpec = {
  name: 'iwae',
  title: 'negative IWAE log-likelihood, -[logsumexp_k log w_k - log K]',
  reference: 'Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016',
  granularity: 'sample',
  needs: ['encode', 'posterior', 'decode', 'decoder-likelihood'],
  options: { k: 'importance samples K (default 50)', seed: 'noise seed', decodeBatch: 'codes decoded at once' },
  columns: { loglik: 'nats per image (L_K)', elbo_mc: 'nats per image (mean of the K log weights)' },
  axis: '-log p(x), IWAE (nats)',
  units: 'nats per image',
  create: ({ model, options: o }) => new IwaeDetector(model as LatentModel, { k: o.k ?? 50, seed: o.seed, decodeBatch: o.decodeBatch }),
};
