// Likelihood ratio (Ren, Liu, Fertig, Snoek, Poplin, DePristo, Dillon & Lakshminarayanan, NeurIPS 2019,
// "Likelihood Ratios for Out-of-Distribution Detection", eq. 5):
//
//   LLR(x) = log p_theta(x) - log p_theta_bg(x)
//
// p_theta the model, p_theta_bg the same architecture trained on mutated inputs (each value replaced by a uniform
// 8-bit level with probability mu; `oodgen train --mutate 0.2`, src/data/mutate.ts), which captures the background
// statistics shared by all images. Both log-likelihoods are exact (flows; the paper's own models are
// autoregressive, with exact likelihoods) or IWAE estimates of VAEs with the same K and noise. Score = -LLR
// (higher = more OoD). The paper picks mu (and the background model's L2 weight decay) on OoD-like validation data;
// oodgen never uses OoD data and trains the background with a fixed default mu = 0.2 (recorded in its config).
import type { Tensor } from '../engine/index.js';
import { OodgenError } from '../errors.js';
import type { GenerativeModel } from '../models/types.js';
import type { Detector, DetectorSpec, ScoreBatch } from './types.js';
import { Noise } from './latent.js';
import { intOption, likelihoodEstimator, likelihoodModel, logLikColumn } from './fitted.js';

/** -(log p - log p_bg) per image, from the two log-likelihoods. */
export function likelihoodRatioScore(logLik: ArrayLike<number>, logLikBg: ArrayLike<number>): Float32Array {
  if (logLik.length !== logLikBg.length) throw new OodgenError(`likelihood-ratio: ${logLik.length} vs ${logLikBg.length} log-likelihoods`);
  return Float32Array.from({ length: logLik.length }, (_, i) => -(logLik[i]! - logLikBg[i]!));
}

export class LikelihoodRatioDetector implements Detector {
  readonly name = 'likelihood-ratio';
  readonly description: string;
  readonly k: number;
  readonly seed: number;
  private readonly noise: Noise;
  private readonly noiseBg: Noise;
  get models(): readonly GenerativeModel[] { return [this.model, this.background]; }
  constructor(readonly model: GenerativeModel, readonly background: GenerativeModel, o: Record<string, unknown> = {}) {
    const a = model.config, b = background.config;
    if (a.kind !== b.kind || a.channels !== b.channels || a.imageSize !== b.imageSize || a.decoder !== b.decoder) {
      throw new OodgenError(`likelihood-ratio: the background model (${b.kind}, ${b.channels}x${b.imageSize}, ${b.decoder} decoder) must be the model's family and model the same images (${a.kind}, ${a.channels}x${a.imageSize}, ${a.decoder} decoder)`);
    }
    this.k = intOption(o.k, 50, 'likelihood-ratio: K');
    this.seed = intOption(o.seed, 0, 'likelihood-ratio: seed', 0);
    this.noise = new Noise(this.seed);
    this.noiseBg = new Noise(this.seed);
    this.description = `-(log p(x) - log p_bg(x)), p_bg trained on mutated inputs, ${likelihoodEstimator(model) === 'exact' ? 'exact log p' : `IWAE K = ${this.k}`} (Ren et al. 2019)`;
  }
  evaluate(x: Tensor): ScoreBatch {
    const loglik = logLikColumn(this.model, x, this.k, this.noise);
    const loglikBg = logLikColumn(this.background, x, this.k, this.noiseBg);
    const score = likelihoodRatioScore(loglik, loglikBg);
    return { score, columns: { llr: score.map((v) => -v), loglik, loglik_bg: loglikBg } };
  }
  score(x: Tensor): Float32Array { return this.evaluate(x).score; }
  settings(): Record<string, unknown> { return { estimator: likelihoodEstimator(this.model), k: this.k, seed: this.seed }; }
}

export const likelihoodRatioSpec: DetectorSpec = {
  name: 'likelihood-ratio',
  title: 'likelihood ratio -(log p(x) - log p_bg(x)), p_bg trained on mutated inputs (oodgen train --mutate)',
  reference: 'Ren, Liu, Fertig, Snoek, Poplin, DePristo, Dillon & Lakshminarayanan, "Likelihood Ratios for Out-of-Distribution Detection", NeurIPS 2019',
  granularity: 'sample',
  needs: ['likelihood'],
  models: { min: 2, max: 2, roles: ['model', 'background model (trained with --mutate)'] },
  options: { k: 'IWAE importance samples K (default 50; unused with exact likelihoods)', seed: 'noise seed (the same for both models)' },
  columns: { llr: 'log p - log p_bg, nats', loglik: 'nats per image', loglik_bg: 'nats per image' },
  axis: '-LLR (nats)',
  units: 'nats per image',
  create: ({ models, options }) => new LikelihoodRatioDetector(likelihoodModel(models[0]!, "score 'likelihood-ratio'"), likelihoodModel(models[1]!, "score 'likelihood-ratio' (background)"), options),
};
