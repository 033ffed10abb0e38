// What a model can do (MODEL_CAPABILITIES in types.ts), and the one compatibility check that detectors, the
// evaluation pipeline and the CLI share: a missing capability is an OodgenError that names the model, what is
// missing and what to use instead.
import { OodgenError } from '../errors.js';
import { MODEL_CAPABILITIES, type GenerativeModel, type LatentModel, type ModelCapability } from './types.js';

/** The capabilities of a model: its own list, else inferred from the members it has (duck-typed test models). */
export function capabilitiesOf(model: GenerativeModel): ModelCapability[] {
  return withLikelihood(model.capabilities ? [...model.capabilities] : inferred(model));
}

/** The VAE capabilities an ELBO / IWAE estimate of log p(x) is built from. */
export const BOUND_CAPABILITIES: readonly ModelCapability[] = ['encode', 'posterior', 'decode', 'decoder-likelihood'];

/**
 * 'likelihood', derived: what the likelihood detectors (typicality, input complexity, WAIC, likelihood ratio) need,
 * an exact log p(x) (a flow) or the parts of its ELBO / IWAE bound (a VAE).
 */
function withLikelihood(caps: ModelCapability[]): ModelCapability[] {
  const have = new Set(caps);
  if (!have.has('likelihood') && (have.has('log-likelihood') || BOUND_CAPABILITIES.every((c) => have.has(c)))) caps.push('likelihood');
  return caps;
}

function inferred(model: GenerativeModel): ModelCapability[] {
  const m = model as Partial<LatentModel> & GenerativeModel;
  const out: ModelCapability[] = [];
  if (typeof m.encode === 'function') {
    out.push('encode');
    // A deterministic autoencoder's encode() has no log-variance.
    if (model.config.kind !== 'ae') out.push('posterior');
  }
  if (typeof m.decode === 'function' && typeof m.mean === 'function') out.push('decode');
  if (typeof m.logLikelihood === 'function') out.push('decoder-likelihood');
  if (typeof m.logProb === 'function') out.push('log-likelihood');
  if (typeof m.sample === 'function') out.push('sample');
  if (typeof m.batchNormGroups === 'function' || (m.encoder && m.decoder)) out.push('batchnorm');
  return out;
}

export function hasCapabilities(model: GenerativeModel, needs: readonly ModelCapability[]): boolean {
  const have = new Set(capabilitiesOf(model));
  return needs.every((c) => have.has(c));
}

/** Why a capability is usually missing, and what to do instead. */
const HINTS: Partial<Record<ModelCapability, string>> = {
  likelihood: 'a deterministic autoencoder has no likelihood, only the reconstruction error (score rec)',
  posterior: 'a deterministic autoencoder has no likelihood, only the reconstruction error (score rec)',
  encode: 'the model has no encoder (a flow or an autoregressive model): use a likelihood score',
};

/**
 * Throws an OodgenError unless `model` has every capability in `needs`. `who` names the user of the model
 * (e.g. "score 'iwae'"), `what` the model (a run folder, a family).
 */
export function requireCapabilities(model: GenerativeModel, needs: readonly ModelCapability[], who: string, what = `a ${model.config.kind} model`): void {
  const have = new Set(capabilitiesOf(model));
  const missing = needs.filter((c) => !have.has(c));
  if (missing.length === 0) return;
  const hint = missing.map((c) => HINTS[c]).find((h) => h);
  throw new OodgenError(
    `${who} needs ${missing.map((c) => `${c} (${MODEL_CAPABILITIES[c]})`).join(', ')}; ${what} has ${[...have].join(', ') || 'none'}` + (hint ? `: ${hint}` : ''),
  );
}

/** The model as a LatentModel, after checking it has an encoder and a decoder. */
export function asLatent(model: GenerativeModel, who: string): LatentModel {
  requireCapabilities(model, ['encode', 'decode'], who);
  return model as LatentModel;
}

/**
 * The one image/model compatibility check: images (N, C, H, W) must match the model's channels and size, and hold
 * N*C*H*W values. `what` names the set in the error.
 */
export function checkImagesFit(model: GenerativeModel, set: { images: ArrayLike<number>; shape: readonly number[] }, what: string): void {
  const [n, c, h, w] = set.shape as [number, number, number, number];
  const cfg = model.config;
  if (set.shape.length !== 4) throw new OodgenError(`${what}: images must be (N, C, H, W), got shape ${set.shape.join('x')}`);
  if (set.images.length !== n * c * h * w) throw new OodgenError(`${what}: ${set.images.length} values do not match shape ${set.shape.join('x')}`);
  if (c !== cfg.channels || h !== cfg.imageSize || w !== cfg.imageSize) {
    throw new OodgenError(`${what}: images are ${c}x${h}x${w} but the model takes ${cfg.channels}x${cfg.imageSize}x${cfg.imageSize}; load the set with imageSize ${cfg.imageSize} and channels ${cfg.channels}`);
  }
}
