// The ELBO split into its three components (Chen 2021, eq. 3.1-3.4; Hoffman & Johnson 2016, "ELBO surgery"):
//
//   ELBO(x) = E_q[log p(x|z)]  +  E_q[log p(z)]  +  ( -E_q[log q(z|x)] )
//             reconstruction      prior             entropy of q(z|x)
//
// with q(z|x) = N(mu(x), diag sigma^2(x)) and p(z) = N(0, I). The prior and entropy terms are analytic:
//   E_q[log p(z)]     = -1/2 sum_j (mu_j^2 + sigma_j^2 + log 2 pi)
//   -E_q[log q(z|x)]  =  1/2 sum_j (1 + log sigma_j^2 + log 2 pi)
// (their sum is -KL(q || p)); the reconstruction term is a Monte-Carlo average over L reparameterised samples
// (L = 1 by default, as in training). The seed (Fig. 3.8) plots reconstruction against prior + entropy to show
// which term makes OoD inputs look likely.
//
// As a detector the score is -ELBO (higher = more OoD); the columns hold each component.
import { Tensor, tidy, noGrad, mean, add } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import type { Detector, DetectorSpec, ScoreBatch } from './types.js';
import {
  Noise, type EpsSource, defaultDecodeBatch, expectedLogPrior, gaussianPosterior, negated, posteriorEntropy, sampleTerms,
} from './latent.js';
import { hasOwnPrior } from './latent.js';
import { OodgenError } from '../errors.js';

export interface ComponentOptions {
  /** Posterior samples L for the reconstruction term (default 1). */
  samples?: number;
  /** Seed of the noise generator (default 0). */
  seed?: number;
  /** Codes decoded at once (default: about 256 MiB of decoder activations, see defaultDecodeBatch). */
  decodeBatch?: number;
  /** log P(x8 | z) of the 8-bit image (model.imageLogProb) instead of the decoder's likelihood (bits/dim). */
  image?: boolean;
}

export interface ElboComponents {
  /** E_q[log p(x|z)] (B,), nats. */
  reconstruction: Tensor;
  /** E_q[log p(z)] (B,), nats. */
  prior: Tensor;
  /** -E_q[log q(z|x)] (B,), nats. */
  entropy: Tensor;
  /** reconstruction + prior + entropy (B,). */
  elbo: Tensor;
}

/** The three ELBO components of a batch; eps (L, B, Z) fixes the noise (tests). */
export function elboComponents(model: LatentModel, x: Tensor, o: ComponentOptions & { eps?: EpsSource } = {}): ElboComponents {
  const samples = o.samples ?? 1;
  if (!Number.isInteger(samples) || samples < 1) throw new OodgenError(`samples must be a positive integer, got ${samples}`);
  return noGrad(() => {
    const { mu, logvar } = gaussianPosterior(model.encode(x), 'components');
    const source = o.eps ?? new Noise(o.seed ?? 0);
    const terms = sampleTerms(model, x, mu, logvar, samples, source, o.decodeBatch ?? defaultDecodeBatch(model), o.image ?? false);
    const reconstruction = mean(terms.logPx, 0);
    // A flow prior (f-VAE) has no closed-form E_q[log p(z)]: Monte-Carlo over the same L samples.
    const prior = hasOwnPrior(model) ? mean(terms.logPz, 0) : expectedLogPrior(mu, logvar);
    const entropy = posteriorEntropy(logvar);
    return { reconstruction, prior, entropy, elbo: add(add(reconstruction, prior), entropy) };
  });
}

/** Columns: reconstruction, prior, entropy, kl (= -(prior + entropy)), elbo; score = -elbo. */
export class ComponentsDetector implements Detector {
  readonly name: string = 'components';
  readonly description: string = 'ELBO components (Chen 2021 eq. 3.1-3.4): reconstruction E_q[log p(x|z)] (MC, L samples), prior E_q[log p(z)] and entropy -E_q[log q(z|x)] (analytic); score = -(sum)';
  protected readonly noise: Noise;
  constructor(readonly model: LatentModel, readonly opts: ComponentOptions = {}) {
    this.noise = new Noise(opts.seed ?? 0);
  }
  evaluate(x: Tensor): ScoreBatch {
    return tidy(() => {
      const c = elboComponents(this.model, x, { ...this.opts, eps: this.noise });
      const rec = c.reconstruction.toFloat32Array();
      const prior = c.prior.toFloat32Array();
      const entropy = c.entropy.toFloat32Array();
      const elbo = c.elbo.toFloat32Array();
      const kl = new Float32Array(rec.length);
      for (let i = 0; i < kl.length; i++) kl[i] = -(prior[i]! + entropy[i]!);
      return { score: negated(elbo), columns: { reconstruction: rec, prior, entropy, kl, elbo } };
    });
  }
  score(x: Tensor): Float32Array {
    return this.evaluate(x).score;
  }
  settings(): Record<string, unknown> {
    return { samples: this.opts.samples ?? 1, seed: this.opts.seed ?? 0, decodeBatch: this.opts.decodeBatch ?? defaultDecodeBatch(this.model) };
  }
}

export const componentsSpec: DetectorSpec = {
  name: 'components',
  title: 'ELBO components: reconstruction, prior and entropy terms (each its own table row); score -ELBO',
  reference: 'Chen, NUS 2021, eq. 3.1-3.4; Hoffman & Johnson, "ELBO surgery", NeurIPS AABI 2016',
  granularity: 'sample',
  needs: ['encode', 'posterior', 'decode', 'decoder-likelihood'],
  options: { samples: 'posterior samples L of the reconstruction term (default 1)', seed: 'noise seed', decodeBatch: 'codes decoded at once' },
  columns: { reconstruction: 'nats per image', prior: 'nats per image', entropy: 'nats per image', kl: 'nats per image', elbo: 'nats per image' },
  rows: [
    { row: '-reconstruction', column: 'reconstruction', negate: true, meanOf: 'reconstruction' },
    { row: '-prior', column: 'prior', negate: true, meanOf: 'prior' },
    { row: '-entropy', column: 'entropy', negate: true, meanOf: 'entropy' },
    { row: 'kl', column: 'kl', meanOf: 'kl' },
  ],
  axis: '-ELBO (nats)',
  units: 'nats per image',
  create: ({ model, options: o }) => new ComponentsDetector(model as LatentModel, { samples: o.samples, seed: o.seed, decodeBatch: o.decodeBatch }),
};
