// WAIC, the watanabe-Akaike information criterion of a model ensemble (Choi, Jang & Alemi 2018, "WAIC, but Why?
// Generative Ensembles for Robust Anomaly Detection", eq. 2):
//
//   WAIC(x) = E_theta[log p_theta(x)] - Var_theta[log p_theta(x)]
//
// over M models trained from different seeds (`oodgen train --seed`), each log p exact (flows, as the paper's Glow
// ensembles) or the IWAE estimate (K samples) of a VAE.
// Inputs on which the ensemble disagrees (high variance) are penalised even when each member finds them likely.
// Score = -WAIC (higher = more OoD). Var is the population variance over the M members (1/M), as in the paper's
// ensemble moments.
// Range: the moments are taken in float64, and a score (or column) beyond float32's range saturates at the largest
// float32 (same sign) instead of becoming Infinity. Far-OoD inputs reach it: the five small CIFAR-10 Glows of
// bench/suites/glow.json give uniform noise -log p from 2.5e5 to 7.3e27 nats (each finite in float32), so the variance
// over members is ~1e55 nats^2, which float32 cannot hold. Saturation keeps the order of every score that fits and
// ranks the saturated ones above them (ties among themselves), where an Infinity would fail the unit as non-finite.
import { OodgenError } from '../errors.js';
import type { Tensor } from '../engine/index.js';
import type { GenerativeModel } from '../models/types.js';
import type { Detector, DetectorSpec, ScoreBatch } from './types.js';
import { Noise } from './latent.js';
import { intOption, likelihoodEstimator, likelihoodModel, logLikColumn } from './fitted.js';

/** The largest finite float32. */
const F32_MAX = 3.4028234663852886e38;
/** v as float32, saturated at +-F32_MAX where float32 would round it to +-Infinity (NaN and Infinity pass through). */
function saturateF32(v: number): number {
  return Number.isFinite(v) ? Math.max(-F32_MAX, Math.min(F32_MAX, v)) : v;
}

/** perModel[m][i]: log p_m(x_i), nats. Returns score = -(mean - var) and the mean and variance columns (float64
 *  moments, saturated to float32's range: see the header). */
export function waicScore(perModel: ArrayLike<number>[]): { score: Float32Array; mean: Float32Array; variance: Float32Array } {
  const M = perModel.length;
  if (M < 2) throw new OodgenError(`waic needs an ensemble of at least 2 models (--ensemble RUN1,RUN2,...), got ${M}`);
  const n = perModel[0]!.length;
  if (perModel.some((p) => p.length !== n)) throw new OodgenError('waic: the ensemble members scored different numbers of images');
  const score = new Float32Array(n), mean = new Float32Array(n), variance = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let m = 0; m < M; m++) s += perModel[m]![i]!;
    const mu = s / M;
    let v = 0;
    for (let m = 0; m < M; m++) v += (perModel[m]![i]! - mu) ** 2;
    v /= M;
    mean[i] = saturateF32(mu);
    variance[i] = saturateF32(v);
    score[i] = saturateF32(v - mu);
  }
  return { score, mean, variance };
}

// ---- Detector (registered in builtin.ts) ----

export class WaicDetector implements Detector {
  readonly name = 'waic';
  readonly description: string;
  readonly model: GenerativeModel;
  get models(): readonly GenerativeModel[] { return this.members; }
  private readonly noises: Noise[];
  readonly k: number;
  readonly seed: number;
  constructor(readonly members: GenerativeModel[], o: Record<string, unknown> = {}) {
    if (members.length < 2) throw new OodgenError(`waic needs an ensemble of at least 2 models (--ensemble RUN1,RUN2,...), got ${members.length}`);
    const est = likelihoodEstimator(members[0]!);
    members.forEach((m, i) => {
      const c = members[0]!.config;
      if (likelihoodEstimator(m) !== est) throw new OodgenError(`waic: ensemble member ${i + 1} (${m.config.kind}) has ${likelihoodEstimator(m) === 'exact' ? 'an exact' : 'a bounded (IWAE)'} likelihood, member 1 (${c.kind}) ${est === 'exact' ? 'an exact' : 'a bounded'} one; an ensemble's members must be comparable`);
      if (m.config.channels !== c.channels || m.config.imageSize !== c.imageSize) throw new OodgenError(`waic: ensemble member ${i + 1} takes ${m.config.channels}x${m.config.imageSize}x${m.config.imageSize} images, member 1 ${c.channels}x${c.imageSize}x${c.imageSize}`);
    });
    this.model = members[0]!;
    this.k = intOption(o.k, 50, 'waic: K');
    this.seed = intOption(o.seed, 0, 'waic: seed', 0);
    this.noises = members.map(() => new Noise(this.seed));
    this.description = `-(mean_m log p_m(x) - var_m log p_m(x)) over ${members.length} models, ${est === 'exact' ? 'exact log p' : `IWAE K = ${this.k}`} (Choi, Jang & Alemi 2018)`;
  }
  evaluate(x: Tensor): ScoreBatch {
    const per = this.members.map((m, i) => logLikColumn(m, x, this.k, this.noises[i]!));
    const r = waicScore(per);
    return { score: r.score, columns: { waic: r.score.map((v) => -v), mean: r.mean, variance: r.variance } };
  }
  score(x: Tensor): Float32Array { return this.evaluate(x).score; }
  settings(): Record<string, unknown> { return { estimator: likelihoodEstimator(this.model), k: this.k, seed: this.seed, members: this.members.length }; }
}

export const waicSpec: DetectorSpec = {
  name: 'waic',
  title: 'WAIC of an ensemble: -(mean_m log p_m(x) - var_m log p_m(x)), models trained from different seeds',
  reference: 'Choi, Jang & Alemi, "WAIC, but Why? Generative Ensembles for Robust Anomaly Detection", arXiv:1810.01392, 2018',
  granularity: 'sample',
  needs: ['likelihood'],
  models: { min: 2, roles: ['ensemble member'] },
  options: { k: 'IWAE importance samples K (default 50; unused with exact likelihoods)', seed: 'noise seed (the same noise for every member)' },
  columns: { waic: 'nats per image', mean: 'mean log p over members, nats', variance: 'variance of log p over members, nats^2' },
  axis: '-WAIC (nats)',
  units: 'nats per image',
  create: ({ models, options }) => new WaicDetector(models.map((m, i) => likelihoodModel(m, `score 'waic' (member ${i + 1})`)), options),
};
