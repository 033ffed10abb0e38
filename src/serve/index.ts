// The OoD gate service (issue 14): a trained run + a per-sample detector + its ID calibration behind HTTP.
export { openGate, Gate, type GateOptions, type GateResult, type GateSource } from './gate.js';
export { buildServer, scoringPool, type ServeOptions } from './app.js';
export { ScoringPool, type ScoringPoolOptions } from './scoring-pool.js';
export { PerSampleScorer, servableSpec, type ScorerOptions } from './scorer.js';
export { MicroBatcher, type BatcherOptions } from './batcher.js';
export { makeCalibration, loadCalibration, saveCalibration, calibrationFile, thresholdAt, pValue, type Calibration } from './calibration.js';
export { inspectImage, imageToInput, pixelsToInput, DEFAULT_IMAGE_LIMITS, type ImageLimits } from './decode.js';
export { HttpError } from './errors.js';
