// Bits per dimension (Theis, van den Oord & Bethge 2016, "A note on the evaluation of generative models",
// section 3.1; the unit of Nalisnick et al. 2019 and of the seed's likelihood tables):
//
//   bpd(x) = -log2 P(x8) / D,   D = C * H * W,
//
// where P(x8) is the model's probability of the 8-bit image x8 = round(255 x), never a density at raw pixel values:
//  - categorical decoder: its 256-way softmax is that probability already;
//  - Gaussian decoder (Gaussian VAE, Soft-IntroVAE): log P(x8 | z) integrates the decoder's density over each
//    level's bin [k/256, (k+1)/256), the two outer bins open (src/models/discretized-gaussian.ts; Salimans et al.
//    2017's discretized likelihood with a Gaussian). Inputs off the 8-bit grid (resized images) are quantized first.
//  - Bernoulli decoder with soft targets, deterministic AE: no probability of the 8-bit image, so no bits/dim; the
//    detector refuses them with the reason (imageProbabilityProblem).
// log P(x8) is the IWAE estimate L_K (default) or the ELBO built on log P(x8 | z), a lower bound on log P(x8), so
// bpd is an upper bound of the model's bits/dim (in expectation). Higher bpd = less likely = more OoD: the score is
// bpd itself. (Until this version the Gaussian bpd was 8 - log p(x) / (D ln 2) of the density at raw pixel values;
// scoring never dequantizes, so that was not a bits/dim of the 8-bit image.)
import type { Tensor } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import type { Detector, DetectorSpec, ScoreBatch } from './types.js';
import { IwaeDetector } from './iwae.js';
import { ElboDetector } from './elbo.js';
import { imageProbabilityProblem } from '../models/image-probability.js';
import { OodgenError } from '../errors.js';
import { bitsPerDim } from '../models/likelihoods.js';

/** bpd from a log-probability in nats of the 8-bit image with D dimensions (models/likelihoods.ts). */
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
    const problem = imageProbabilityProblem(model);
    if (problem) throw new OodgenError(`score 'bpd': ${problem}`);
    this.estimator = opts.estimator ?? 'iwae';
    this.base = this.estimator === 'iwae'
      ? new IwaeDetector(model, { k: opts.k ?? 50, seed: opts.seed, decodeBatch: opts.decodeBatch, image: true })
      : new ElboDetector(model, { seed: opts.seed, decodeBatch: opts.decodeBatch, image: true });
    const how = model.continuousLikelihood
      ? 'log P(x8 | z) = the Gaussian density integrated over each 8-bit level\'s bin'
      : 'log P(x8 | z) = the decoder\'s probability of the 8-bit levels';
    this.description = `bits per dimension -log P(x8) / (D ln 2) of the 8-bit image, log P(x8) the ${this.estimator === 'iwae' ? `IWAE (K = ${opts.k ?? 50})` : 'ELBO'} bound with ${how} (Theis et al. 2016)`;
  }
  /** Columns: bpd, loglik (the bound on log P(x8) it came from, nats). */
  evaluate(x: Tensor): ScoreBatch {
    const r = this.base.evaluate(x);
    const ll = this.estimator === 'iwae' ? r.columns.loglik! : r.columns.elbo!;
    const [, c, h, w] = x.shape as [number, number, number, number];
    const d = c * h * w;
    const bpd = new Float32Array(ll.length);
    for (let i = 0; i < ll.length; i++) bpd[i] = bitsPerDim(ll[i]!, d);
    return { score: bpd, columns: { bpd, loglik: ll } };
  }
  score(x: Tensor): Float32Array {
    return this.evaluate(x).score;
  }
  settings(): Record<string, unknown> {
    return { estimator: this.estimator, ...this.base.settings(), likelihood: this.model.continuousLikelihood ? 'discretized gaussian (8-bit bins)' : 'discrete' };
  }
}

export const bpdSpec: DetectorSpec = {
  name: 'bpd',
  title: 'bits per dimension of the 8-bit image, -log2 P(x8) / D, P(x8) the IWAE bound on the discretized likelihood (not for Bernoulli decoders)',
  reference: 'Theis, van den Oord & Bethge, "A note on the evaluation of generative models", ICLR 2016',
  granularity: 'sample',
  needs: ['encode', 'posterior', 'decode', 'decoder-likelihood'],
  options: { k: 'importance samples K (default 50)', seed: 'noise seed', decodeBatch: 'codes decoded at once' },
  columns: { bpd: 'bits per dimension of the 8-bit image', loglik: 'nats per image (bound on log P(x8))' },
  axis: 'bits per dimension',
  units: 'bits per dimension',
  create: ({ model, options: o }) => new BpdDetector(model as LatentModel, { k: o.k ?? 50, seed: o.seed, decodeBatch: o.decodeBatch }),
};
