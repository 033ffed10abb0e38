// The built-in detectors, one line each (registry.ts registers them in this order). A new detector is one file
// exporting its DetectorSpec plus one line here; code outside the library calls registerDetector(spec) instead.
import type { DetectorSpec } from './types.js';
import { elboSpec } from './elbo.js';
import { iwaeSpec } from './iwae.js';
import { bpdSpec } from './bpd.js';
import { componentsSpec } from './components.js';
import { reconstructionSpec } from './reconstruction.js';
import { nllSpec } from './exact-nll.js';
import { likelihoodRegretSpec } from './likelihood-regret.js';
import { inputComplexitySpec } from './input-complexity.js';
import { likelihoodRatioSpec } from './likelihood-ratio.js';
import { typicalityBatchSpec, typicalitySpec } from './typicality.js';
import { waicSpec } from './waic.js';
import { doseSpec } from './dose.js';
import { lpathSpec } from './lpath.js';
import { mahalanobisLatentSpec } from './mahalanobis-latent.js';
import { lpathKnnSpec } from './lpath-knn.js';

export const BUILTIN_DETECTORS: readonly DetectorSpec[] = [
  elboSpec,
  iwaeSpec,
  bpdSpec,
  componentsSpec,
  reconstructionSpec,
  nllSpec,
  likelihoodRegretSpec,
  inputComplexitySpec,
  likelihoodRatioSpec,
  typicalitySpec,
  typicalityBatchSpec,
  waicSpec,
  doseSpec,
  lpathSpec,
  mahalanobisLatentSpec,
  lpathKnnSpec,
];
