// OoD detectors (scores) of generative models and their registry. Every detector follows pytorch-ood's
// convention: score(x) -> Float32Array, higher = more out-of-distribution. The contract is in types.ts, the
// registry in registry.ts, the built-ins in builtin.ts.
export type {
  Detector, DetectorSpec, DetectorContext, DetectorOptions, DetectorState, FitContext, ImageSource, ReportRow, ScoreBatch,
} from './types.js';
export {
  registerDetector, unregisterDetector, listDetectors, detectorNames, detectorSpec, parseScoreName, createDetector,
  detectorsFor, detectorsFor as scoresFor, reportRows, rowSeries, subsetBase,
} from './registry.js';
export { saveDetectorState, loadDetectorState, detectorStatePaths } from './state.js';
export { BN_MODES, BN_MODE_DESCRIPTIONS, applyBnMode, withBnMode, parseBnMode, bnUsesBatchStats, type BnMode } from './bn-mode.js';
export { elbo, elboSpec, ElboDetector, type ElboOptions } from './elbo.js';
export { iwaeLogLikelihood, iwaeLogWeights, iwaeSpec, IwaeDetector, type IwaeOptions } from './iwae.js';
export { bitsPerDim, bpdSpec, BpdDetector, type BpdOptions } from './bpd.js';
export { elboComponents, componentsSpec, ComponentsDetector, type ComponentOptions, type ElboComponents } from './components.js';
export { reconstructionError, reconstruct, reconstructionSpec, ReconstructionDetector } from './reconstruction.js';
export { scoreDataset, scoreMixed, scoreDatasetAsync, scoreMixedAsync, fixedSizeBatches, assertFiniteScores, type ScoreDatasetOptions, type AsyncScoreOptions, type ScoreDatasetResult } from './driver.js';
export { Noise, defaultDecodeBatch, LOG_2PI } from './latent.js';


/** A detector's registry name (any registered detector, built in or added with registerDetector). */
export type ScoreName = string;
