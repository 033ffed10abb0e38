// Small shared pieces of the detectors fitted on in-distribution data (typicality, dose, lpath,
// mahalanobis-latent): the not-fitted error, reading a saved state's arrays with their shapes checked, and the
// per-image IWAE log-likelihood several of them build on.
import { tidy, type Tensor } from '../engine/index.js';
import type { GenerativeModel, LatentModel } from '../models/types.js';
import { asLatent } from '../models/capabilities.js';
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
