// Model construction from a ModelConfig (what a run's config.json stores), through the model-family registry.
import type { Generator } from '../engine/random.js';
import { OodgenError } from '../errors.js';
import { resolveDevice } from '../engine/device.js';
import type { GenerativeModel, LatentModel, ModelConfig } from './types.js';
import type { LatentBase } from './vae.js';
import { modelFamily, modelKinds } from './registry.js';

/** Checks a model config (generic checks, then the family's own); returns a message per problem (empty when fine). */
export function modelConfigProblems(c: ModelConfig): string[] {
  const out: string[] = [];
  const family = modelKinds().includes(c.kind) ? modelFamily(c.kind) : null;
  if (!family) out.push(`unknown model kind '${c.kind}' (${modelKinds().join(', ')})`);
  if (!['gaussian', 'categorical', 'bernoulli'].includes(c.decoder)) out.push(`unknown decoder '${c.decoder}' (gaussian, categorical, bernoulli)`);
  if (c.channels !== 1 && c.channels !== 3) out.push(`channels must be 1 or 3, got ${c.channels}`);
  if (c.imageSize !== 32 && c.imageSize !== 28) out.push(`image size must be 32 or 28, got ${c.imageSize}`);
  if (!Number.isInteger(c.zDim) || c.zDim < 1) out.push(`z dim must be a positive integer, got ${c.zDim}`);
  if (!Number.isInteger(c.width) || c.width < 1) out.push(`width must be a positive integer, got ${c.width}`);
  if (c.sigma2 !== undefined && c.sigma2 !== 'learned' && !(c.sigma2 > 0 && Number.isFinite(c.sigma2))) out.push(`sigma2 must be > 0 or 'learned', got ${c.sigma2}`);
  if (c.sigma2 !== undefined && c.decoder !== 'gaussian') out.push(`sigma2 applies to the gaussian decoder only (decoder is ${c.decoder})`);
  if (c.beta !== undefined && !(c.beta >= 0 && Number.isFinite(c.beta))) out.push(`beta must be >= 0, got ${c.beta}`);
  if (family) out.push(...(family.configProblems?.(c) ?? []));
  return out;
}

/**
 * Builds the model of a config, initialised from `generator`, on `device` (default cpu). Typed as the DCGAN
 * LatentModel of the built-in families by default; code that handles other families passes its own type
 * (createModel<TrainableModel>(...)) and checks capabilities (models/capabilities.ts).
 */
export function createModel<M extends GenerativeModel = LatentModel & LatentBase>(config: ModelConfig, opts: { generator?: Generator; device?: string } = {}): M {
  const problems = modelConfigProblems(config);
  // A bad config is the user's (a hand-edited config.json, a wrong CLI flag), so it is an OodgenError naming each
  // option, which the CLI prints as one line.
  if (problems.length) throw new OodgenError(`model config: ${problems.join('; ')}`);
  const m = modelFamily(config.kind).create(config, { generator: opts.generator });
  const device = resolveDevice(opts.device);
  if (device !== 'cpu') m.to(device);
  return m as unknown as M;
}
