// Bits per dimension (Theis, van den Oord & Bethge 2016, "A note on the evaluation of generative models",
// section 3.1; the unit of Nalisnick et al. 2019 and of the seed's likelihood tables):
//
//   bpd(x) = -log2 P(x) / D,   D = C * H * W,
//
// where P(x) must be a probability of the 8-bit image, not a density:
//  - discrete (categorical) decoder: P(x) is the model's own probability of the pixel values, so
//      bpd = -log P(x) / (D ln 2);
//  - continuous decoder (Gaussian) of x in [0, 1]: the density p is converted to the probability of the pixel's
//    bin of width 1/256 (the dequantisation the training loop uses, x' = (k + u)/256, u ~ U[0, 1);
//    Theis et al. 2016, eq. 8; Papamakarios et al. 2017; Ho et al. 2019): P(x) ~= p(x) (1/256)^D, so
//      bpd = -(log p(x) - D ln 256) / (D ln 2) = 8 - log p(x) / (D ln 2).
// log p(x) is the IWAE estimate L_K (default) or the ELBO, so bpd inherits that estimator's bound. Higher bpd =
// less likely = more OoD, so the score is bpd itself.
import type { Tensor } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import type { Detector, DetectorSpec, ScoreBatch } from './types.js';
import { IwaeDetector } from './iwae.js';
import { ElboDetector } from './elbo.js';

import { bitsPerDim } from '../models/likelihoods.js';

/** bpd from a log-likelihood in nats of an image with D dimensions (models/likelihoods.ts). */
export { bitsPerDim };

export interface BpdOptions {
  /** The log-likelihood estimate: 'iwae' (default) or 'elbo'. */
  estimator?: 'iwae' | 'elbo';
  /** IWAE importance samples (default 50). */
  k?: number;
  seed?: number;
  decodeBatch?: number;
}

export class BpdDetector implements Detector {
  readonly name: string = 'bpd';
  readonly description: string;
  private readonly base: IwaeDetector | ElboDetector;
  private readonly estimator: 'iwae' | 'elbo';
  constructor(readonly model: LatentModel, readonly opts: BpdOptions = {}) {
    this.estimator = opts.estimator ?? 'iwae';
    this.base = this.estimator === 'iwae'
      ? new IwaeDetector(model, { k: opts.k ?? 50, seed: opts.seed, decodeBatch: opts.decodeBatch })
      : new ElboDetector(model, { seed: opts.seed, decodeBatch: opts.decodeBatch });
    const how = model.continuousLikelihood ? '-(log p(x) - D ln 256) / (D ln 2) (continuous decoder, 8-bit bins)' : '-log P(x) / (D ln 2) (discrete decoder)';
    this.description = `bits per dimension of the ${this.estimator === 'iwae' ? `IWAE (K = ${opts.k ?? 50})` : 'ELBO'} log-likelihood, ${how} (Theis et al. 2016)`;
  }
  /** Columns: bpd, loglik (the nats it came from). */
  evaluate(x: Tensor): ScoreBatch {
    const r = this.base.evaluate(x);
    const ll = this.estimator === 'iwae' ? r.columns.loglik! : r.columns.elbo!;
    const [, c, h, w] = x.shape as [number, number, number, number];
    const d = c * h * w;
    const bpd = new Float32Array(ll.length);
    for (let i = 0; i < ll.length; i++) bpd[i] = bitsPerDim(ll[i]!, d, this.model.continuousLikelihood);
    return { score: bpd, columns: { bpd, loglik: ll } };
  }
  score(x: Tensor): Float32Array {
    return this.evaluate(x).score;
  }
  settings(): Record<string, unknown> {
    return { estimator: this.estimator, ...this.base.settings(), continuous: this.model.continuousLikelihood };
  }
}

export const bpdSpec: DetectorSpec = {
  name: 'bpd',
  title: 'bits per dimension of the IWAE log-likelihood, -log2 P(x) / D',
  reference: 'Theis, van den Oord & Bethge, "A note on the evaluation of generative models", ICLR 2016',
  granularity: 'sample',
  needs: ['encode', 'posterior', 'decode', 'decoder-likelihood'],
  options: { k: 'importance samples K (default 50)', seed: 'noise seed', decodeBatch: 'codes decoded at once' },
  columns: { bpd: 'bits per dimension', loglik: 'nats per image' },
  axis: 'bits per dimension',
  units: 'bits per dimension',
  create: ({ model, options: o }) => new BpdDetector(model as LatentModel, { k: o.k ?? 50, seed: o.seed, decodeBatch: o.decodeBatch }),
};
