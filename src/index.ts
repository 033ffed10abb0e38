// oodgen: out-of-distribution detection with deep generative models, in TypeScript over libtorch.
// The curated public surface; deeper modules stay importable by path for advanced use.

// Engine: tensors, ops, autograd, memory scopes, devices, generators.
export * as engine from './engine/index.js';
export { Tensor, tidy, keep, noGrad, liveTensors, manualSeed, Generator, cuda, setNumThreads } from './engine/index.js';

// Neural network modules, optimizers, checkpoints.
export * as nn from './nn/index.js';
export { Adam, AdamW, SGD } from './optim/index.js';
export { saveStateDict, loadStateDict, saveTensors, loadTensors } from './io/checkpoint.js';
export { readSafetensors, writeSafetensors } from './io/safetensors.js';

// Data.
export type { ImageSet } from './data/types.js';
export { loadDataset, listDatasets } from './data/registry.js';
export { batches } from './data/batches.js';
export { fetchDataset } from './data/fetch.js';

// Models and training.
export type { LatentModel, GenerativeModel, ModelCapability, ModelConfig, ModelKind, DecoderType } from './models/types.js';
export { MODEL_CAPABILITIES } from './models/types.js';
export { capabilitiesOf, requireCapabilities } from './models/capabilities.js';
export { createModel } from './models/factory.js';
export type { TrainableModel, ModelTrainer, TrainerOptions, ElboTerms } from './models/types.js';
export { registerModel, unregisterModel, listModels, modelFamily, trainDefaults, type ModelFamily, type TrainDefaults } from './models/registry.js';
export { train, type TrainOptions, type TrainResult } from './train/trainer.js';
export { loadRun } from './train/run.js';
export { evaluateElbo } from './train/evaluate.js';
export { adaptDecoderBatchNorm } from './train/bn-adapt.js';

// Scores (higher = more OoD) and BatchNorm modes.
export * as scores from './scores/index.js';
export { ElboDetector, IwaeDetector, BpdDetector, ComponentsDetector, ReconstructionDetector, withBnMode, scoreDataset, scoreDatasetAsync } from './scores/index.js';
// The detector contract and registry: registerDetector(spec) makes a detector usable by name everywhere.
export type { Detector, DetectorSpec, DetectorContext, DetectorOptions, DetectorState, FitContext, ImageSource, ReportRow, ScoreBatch } from './scores/index.js';
export {
  registerDetector, unregisterDetector, listDetectors, detectorSpec, createDetector, saveDetectorState, loadDetectorState,
} from './scores/index.js';

// The OoD evaluation pipeline (what `oodgen eval` and the demo run) and its report writers.
export { evaluate, type EvaluateOptions, type EvalResult, type EvalRow, type EvalSet } from './ood/evaluate.js';
export { writeEvalReport, writeEvalFigures, evalMarkdown, type ReportOptions } from './ood/report.js';

// Evaluation: metrics, figures, tables.
export { oodMetrics, rocCurve, bootstrapMetrics } from './eval/metrics.js';
export { histogramChart, rocChart, scatterChart, lineChart } from './eval/charts.js';
export { writeImageGrid } from './eval/grid.js';
export { markdownTable } from './eval/report.js';

// Latent semantics (Chen 2021, section 3.3.7).
export { trainLinearSvm } from './analysis/svm.js';
export { separabilityReport, idVsIdControl, makeRandomProjection } from './analysis/separability.js';
export { oneClassReport, fitMahalanobis } from './analysis/one-class.js';
export { runLatentAnalysis } from './analysis/latent-report.js';

// The benchmark runner (oodgen benchmark): suites of models x detectors x BatchNorm modes x ID/OoD pairs.
export { runBenchmark, planBenchmark, type BenchmarkOptions, type BenchmarkResult } from './benchmark/run.js';
export { loadSuite, parseSuite, type Suite } from './benchmark/suite.js';

// The OoD gate service: a run + a per-sample detector + its ID calibration behind HTTP (oodgen serve).
export * as serve from './serve/index.js';
export { openGate, buildServer, type GateOptions, type GateResult, type ServeOptions } from './serve/index.js';

// Several processes over c10d (docs/distributed.md): process groups, data-parallel training (train({ ddp })),
// sharded scoring (evaluate({ processGroup }), withScoringRanks for a process started by `oodgen launch`).
export { ProcessGroup, distEnvFromProcess, availableBackends, type DistEnv } from './engine/distributed.js';
export { DataParallel, withDataParallel } from './train/ddp.js';
export { withScoringRanks, type ScoringRank } from './ood/distributed.js';

export { OodgenError } from './errors.js';
