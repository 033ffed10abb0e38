// Small shared pieces of the detectors fitted on in-distribution data (typicality, dose, lpath,
// mahalanobis-latent): the not-fitted error, reading a saved state's arrays with their shapes checked, and the
// per-image IWAE log-likelihood several of them build on.
import { noGrad, tidy, type Tensor } from '../engine/index.js';
import type { GenerativeModel, LatentModel } from '../models/types.js';
import { asLatent, hasCapabilities, requireCapabilities } from '../models/capabilities.js';
import { OodgenError } from '../errors.js';
import type { DetectorState } from './types.js';
import { iwaeLogLikelihood } from './iwae.js';
import type { Noise } from './latent.js';

export function notFitted(name: string): OodgenError {
  return new OodgenError(`detector '${name}' is not fitted: fit it on in-distribution data first (\`oodgen fit --checkpoint RUN --detector ${name}\`, or \`oodgen eval\`, which fits from the run's training data)`);
}

/** A saved array, its length checked (and its shape, when given). */
export function stateArray(s: DetectorState, name: string, length?: number): Float64Array {
  const a = s.arrays[name];
  if (!a) throw new OodgenError(`the saved state has no array '${name}'`);
  if (length !== undefined && a.data.length !== length) throw new OodgenError(`saved array '${name}' has ${a.data.length} values, expected ${length}`);
  return Float64Array.from(a.data);
}

export const f64 = (a: ArrayLike<number>, shape?: number[]) => ({ data: Float64Array.from(a), shape: shape ?? [a.length] });

/** IWAE log-likelihood L_K per image (B,), nats. */
export function iwaeColumn(model: LatentModel, x: Tensor, k: number, noise: Noise, decodeBatch?: number, image = false): Float32Array {
  return tidy(() => iwaeLogLikelihood(model, x, { k, eps: noise, decodeBatch, image }).logLikelihood.toFloat32Array());
}

export const latent = (m: GenerativeModel, who: string): LatentModel => asLatent(m, who);

/**
 * The model of a likelihood detector (typicality, input complexity, WAIC, likelihood ratio): a model with an exact
 * log p(x) (a flow) as it is, else a latent model whose ELBO / IWAE bound stands in for it (checked here).
 */
export function likelihoodModel(m: GenerativeModel, who: string): GenerativeModel {
  if (hasCapabilities(m, ['log-likelihood'])) return m;
  requireCapabilities(m, ['likelihood'], who);
  return asLatent(m, who);
}

/** 'exact' for a model with a tractable density (logProb), 'iwae' for one whose likelihood is the IWAE bound. */
export const likelihoodEstimator = (m: GenerativeModel): 'exact' | 'iwae' => (hasCapabilities(m, ['log-likelihood']) ? 'exact' : 'iwae');

/**
 * log p(x) per image (B,), nats: exact (model.logProb) for a flow, where the literature reports these detectors
 * (Nalisnick et al. 2019 on Glow), else the IWAE bound L_K. image: the probability of the 8-bit image, for bits/dim:
 * for a continuous density p over [0, 1]^D, log p(x) - D log 256 (uniform dequantization's bound, Theis et al. 2016;
 * the +8 bits/dim of exact-nll), x scored as given; a latent model's decoder handles it (imageLogProb).
 */
export function logLikColumn(model: GenerativeModel, x: Tensor, k: number, noise: Noise, o: { image?: boolean; decodeBatch?: number } = {}): Float32Array {
  if (hasCapabilities(model, ['log-likelihood'])) {
    const ll = noGrad(() => tidy(() => model.logProb!(x).toFloat32Array()));
    // A flow's density is over continuous x unless it says otherwise (as exact-nll reads it).
    if (!o.image || (model as { continuousLikelihood?: boolean }).continuousLikelihood === false) return ll;
    const shift = (x.numel / x.shape[0]!) * Math.log(256);
    return ll.map((v) => v - shift);
  }
  return iwaeColumn(model as LatentModel, x, k, noise, o.decodeBatch, o.image ?? false);
}

/** A finite positive integer option, or the default. */
export function intOption(v: unknown, dflt: number, what: string, min = 1): number {
  if (v === undefined || v === null) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new OodgenError(`${what} must be an integer >= ${min}, got ${String(v)}`);
  return n;
}

export function numOption(v: unknown, dflt: number, what: string, ok: (n: number) => boolean = (n) => n > 0): number {
  if (v === undefined || v === null) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || !ok(n)) throw new OodgenError(`${what}: invalid value ${String(v)}`);
  return n;
}
