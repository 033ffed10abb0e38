// Per-sample OoD scores of latent-variable models (issue: scores). Every detector follows pytorch-ood's
// convention: score(x) -> Float32Array, higher = more out-of-distribution.
export type { Detector, ImageSource, ScoreBatch } from './types.js';
export { BN_MODES, BN_MODE_DESCRIPTIONS, applyBnMode, withBnMode, parseBnMode, bnUsesBatchStats, type BnMode } from './bn-mode.js';
export { elbo, ElboDetector, type ElboOptions } from './elbo.js';
export { iwaeLogLikelihood, iwaeLogWeights, IwaeDetector, type IwaeOptions } from './iwae.js';
export { bitsPerDim, BpdDetector, type BpdOptions } from './bpd.js';
export { elboComponents, ComponentsDetector, type ComponentOptions, type ElboComponents } from './components.js';
export { reconstructionError, reconstruct, ReconstructionDetector } from './reconstruction.js';
export { scoreDataset, scoreMixed, fixedSizeBatches, type ScoreDatasetOptions, type ScoreDatasetResult } from './driver.js';
export { Noise, defaultDecodeBatch, LOG_2PI } from './latent.js';

import type { LatentModel } from '../models/types.js';
import type { Detector } from './types.js';
import { ElboDetector } from './elbo.js';
import { IwaeDetector } from './iwae.js';
import { BpdDetector } from './bpd.js';
import { ComponentsDetector } from './components.js';
import { ReconstructionDetector } from './reconstruction.js';
import { OodgenError } from '../errors.js';

export const SCORE_NAMES = ['elbo', 'iwae', 'bpd', 'components', 'rec'] as const;
export type ScoreName = (typeof SCORE_NAMES)[number];

export interface DetectorOptions {
  /** IWAE / bpd importance samples (default 50). */
  k?: number;
  /** ELBO / components reconstruction samples (default 1). */
  samples?: number;
  seed?: number;
  decodeBatch?: number;
}

/** The scores a model supports: an AE (no stochastic encoder, no likelihood) only has the reconstruction error. */
export function scoresFor(model: LatentModel): ScoreName[] {
  return model.config.kind === 'ae' ? ['rec'] : [...SCORE_NAMES];
}

export function parseScoreName(s: string): ScoreName {
  if ((SCORE_NAMES as readonly string[]).includes(s)) return s as ScoreName;
  throw new OodgenError(`unknown score '${s}' (expected one of ${SCORE_NAMES.join(', ')})`);
}

/** A detector by name. */
export function createDetector(name: ScoreName | string, model: LatentModel, o: DetectorOptions = {}): Detector {
  const s = parseScoreName(name);
  if (s !== 'rec' && model.config.kind === 'ae') {
    throw new OodgenError(`score '${s}' needs a likelihood model; an autoencoder only has the reconstruction error: use --score rec`);
  }
  switch (s) {
    case 'elbo': return new ElboDetector(model, { samples: o.samples, seed: o.seed, decodeBatch: o.decodeBatch });
    case 'iwae': return new IwaeDetector(model, { k: o.k ?? 50, seed: o.seed, decodeBatch: o.decodeBatch });
    case 'bpd': return new BpdDetector(model, { k: o.k ?? 50, seed: o.seed, decodeBatch: o.decodeBatch });
    case 'components': return new ComponentsDetector(model, { samples: o.samples, seed: o.seed, decodeBatch: o.decodeBatch });
    case 'rec': return new ReconstructionDetector(model);
  }
}
