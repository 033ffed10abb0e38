// Model construction from a ModelConfig (what a run's config.json stores).
import type { Generator } from '../engine/random.js';
import { resolveDevice } from '../engine/device.js';
import type { LatentModel, ModelConfig } from './types.js';
import { VAE, type LatentBase } from './vae.js';
import { AE } from './ae.js';
import { SoftIntroVAE } from './sintro.js';

/** Checks a model config; returns a message per problem (empty when fine). */
export function modelConfigProblems(c: ModelConfig): string[] {
  const out: string[] = [];
  if (!['ae', 'vae', 'sintro'].includes(c.kind)) out.push(`unknown model kind '${c.kind}' (ae, vae, sintro)`);
  if (!['gaussian', 'categorical', 'bernoulli'].includes(c.decoder)) out.push(`unknown decoder '${c.decoder}' (gaussian, categorical, bernoulli)`);
  if (c.kind === 'ae' && c.decoder === 'categorical') out.push('an AE has no categorical decoder (use gaussian or bernoulli)');
  if (c.kind === 'sintro' && c.decoder !== 'gaussian') out.push('Soft-IntroVAE trains with an SSE (gaussian) decoder only');
  if (c.channels !== 1 && c.channels !== 3) out.push(`channels must be 1 or 3, got ${c.channels}`);
  if (c.imageSize !== 32 && c.imageSize !== 28) out.push(`image size must be 32 or 28, got ${c.imageSize}`);
  if (!Number.isInteger(c.zDim) || c.zDim < 1) out.push(`z dim must be a positive integer, got ${c.zDim}`);
  if (!Number.isInteger(c.width) || c.width < 1) out.push(`width must be a positive integer, got ${c.width}`);
  if (c.sigma2 !== undefined && c.sigma2 !== 'learned' && !(c.sigma2 > 0 && Number.isFinite(c.sigma2))) out.push(`sigma2 must be > 0 or 'learned', got ${c.sigma2}`);
  if (c.sigma2 !== undefined && c.decoder !== 'gaussian') out.push(`sigma2 applies to the gaussian decoder only (decoder is ${c.decoder})`);
  if (c.beta !== undefined && !(c.beta >= 0 && Number.isFinite(c.beta))) out.push(`beta must be >= 0, got ${c.beta}`);
  return out;
}

/** Builds the model of a config, initialised from `generator`, on `device` (default cpu). */
export function createModel(config: ModelConfig, opts: { generator?: Generator; device?: string } = {}): LatentModel & LatentBase {
  const problems = modelConfigProblems(config);
  if (problems.length) throw new Error(`model config: ${problems.join('; ')}`);
  const init = { generator: opts.generator };
  const m = config.kind === 'ae' ? new AE(config, init) : config.kind === 'sintro' ? new SoftIntroVAE(config, init) : new VAE(config, init);
  const device = resolveDevice(opts.device);
  if (device !== 'cpu') m.to(device);
  return m;
}
