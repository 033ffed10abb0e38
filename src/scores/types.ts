// The detector contract. Convention of pytorch-ood: a detector maps images to one number each, and a HIGHER number
// means MORE out-of-distribution. Likelihood scores therefore return -log p(x); the raw log-likelihoods travel
// alongside as named columns so nothing is lost.
//
// A detector has two parts:
//  - a DetectorSpec (static, registered by name in registry.ts): what it is, the paper, whether it scores single
//    images or a whole batch, what it needs from a model, the columns and table rows it reports, and `create`;
//  - a Detector (an instance bound to one model, or several, and its options): `evaluate(batch)`, optionally
//    `fit` on in-distribution data with a state that saves to and loads from a run folder (state.ts).
// Adding a detector is one file exporting a DetectorSpec plus one line in builtin.ts, or registerDetector(spec)
// from outside the library (README "Extending oodgen").
import type { Tensor } from '../engine/tensor.js';
import type { Images } from '../data/types.js';
import type { GenerativeModel, ModelCapability } from '../models/types.js';

/** Images as the dataset layer gives them: NCHW, float32 in [0, 1] (or uint8 0..255, scaled by 1/255); data/types.ts Images. */
export type ImageSource = Images;

/**
 * One batch's result: the OoD score plus named per-sample columns (raw log-likelihoods, components, ...).
 * A per-sample detector returns B scores for a batch of B images; a batch detector returns one.
 */
export interface ScoreBatch {
  score: Float32Array;
  columns: Record<string, Float32Array>;
}

/**
 * Fitted state of a detector, saved as `detectors/NAME.json` (meta) and `detectors/NAME.safetensors` (arrays) in a
 * run folder (state.ts).
 */
export interface DetectorState {
  /** JSON-serialisable settings and scalars (thresholds, means, what data it was fitted on). */
  meta: Record<string, unknown>;
  /** Named float arrays with their shapes (means, covariances, KDE points, ...). */
  arrays: Record<string, { data: Float32Array | Float64Array; shape: number[] }>;
}

/** What `fit` gets besides the in-distribution images. */
export interface FitContext {
  /** Images per batch when the detector runs the model over the fitting data. */
  batchSize?: number;
  /** A description of the fitting data (dataset spec and split), recorded in the state. */
  data?: string;
  onProgress?: (done: number, total: number) => void;
  /** A fit that runs the model over the data checks it between batches and stops with signal.reason. */
  signal?: AbortSignal;
}

export interface Detector {
  /** The registry name: 'elbo', 'iwae', 'bpd', 'components', 'rec', ... */
  readonly name: string;
  /** One line: what the score is, with its formula and settings, for JSON output and reports. */
  readonly description: string;
  /** The model the detector scores with (the first, for detectors of several models); the driver sets its BN mode. */
  readonly model?: GenerativeModel;
  /** Every model it scores with, for a detector of several (ensemble, background, large latent): the driver sets each one's BN mode. Default: [model]. */
  readonly models?: readonly GenerativeModel[];
  /**
   * Fits the detector on in-distribution data only (training or validation split; never OoD data). Detectors
   * without `fit` need no fitting.
   */
  fit?(id: ImageSource, ctx?: FitContext): void | Promise<void>;
  /** Whether fit() ran or a fitted state was loaded (only for detectors with `fit`). */
  readonly fitted?: boolean;
  /** The fitted state, for saving in the run folder. */
  saveState?(): DetectorState;
  /** Restores a state written by saveState(); throws a clear error when it does not fit the model or settings. */
  loadState?(state: DetectorState): void;
  /** Per-sample scores of a batch (B, C, H, W) on the model's device; higher = more OoD. */
  score(x: Tensor): Float32Array;
  /** score() plus the named columns it was computed from. */
  evaluate(x: Tensor): ScoreBatch;
  /**
   * evaluate() in steps (steps.ts), for detectors whose one batch takes long (likelihood regret: ~100 optimizer
   * steps): yields where the work may pause and returns what evaluate() returns. The interruptible scorers
   * (scoreDatasetAsync, evaluate() with a signal) use it so a Ctrl-C is seen within a step; tensors held across a
   * yield must be keep()-ed and freed in a `finally` (an abort ends the generator there).
   */
  evaluateSteps?(x: Tensor): Generator<void, ScoreBatch, void>;
  /** The settings that determine the numbers (K, seed, decode batch, ...), for provenance in JSON. */
  settings(): Record<string, unknown>;
}

/** Options of `createDetector`; each detector reads the ones it declares in DetectorSpec.options. */
export interface DetectorOptions {
  /** IWAE / bpd importance samples (default 50). */
  k?: number;
  /** ELBO / components reconstruction samples (default 1). */
  samples?: number;
  /** Seed of the detector's noise. */
  seed?: number;
  /** Codes decoded at once (bounds memory). */
  decodeBatch?: number;
  [option: string]: unknown;
}

/** What DetectorSpec.create gets: the model(s), already checked against `needs` and `models`, and the options. */
export interface DetectorContext {
  /** The first model (most detectors use one). */
  model: GenerativeModel;
  /** All models, in the order given (an ensemble, or the roles of DetectorSpec.models.roles). */
  models: GenerativeModel[];
  options: DetectorOptions;
}

/**
 * One row of the results table that a detector contributes: a per-sample OoD score (the detector's score, or a
 * column, optionally negated) and the column whose mean is shown beside it.
 */
export interface ReportRow {
  /** Row name in tables and files, e.g. 'iwae', '-prior'. */
  row: string;
  /** Column used as the OoD score of this row; absent: the detector's own score. */
  column?: string;
  /** Score = -column (for columns where higher means more in-distribution). */
  negate?: boolean;
  /** Column whose mean over each set is reported ("mean ID / mean OoD"). */
  meanOf: string;
}

export interface DetectorSpec {
  /** Registry name, used by `--scores` and in file names: lower case, digits and '-'. */
  readonly name: string;
  /** One line: what it computes. */
  readonly title: string;
  /** The paper (authors, title, venue, year); the formula is in the doc comment of the detector's file. */
  readonly reference: string;
  /**
   * 'sample': one score per image, each independent of the other images in the batch (apart from BatchNorm batch
   * statistics, which the BN mode controls); 'batch': one score per batch of images (a test on a group, e.g.
   * the typicality test), so the driver forms disjoint batches and reports one score per batch.
   */
  readonly granularity: 'sample' | 'batch';
  /** Model capabilities it needs (MODEL_CAPABILITIES). */
  readonly needs: readonly ModelCapability[];
  /** How many models it takes (default exactly 1); roles name them in order (e.g. ['small latent', 'large latent']). */
  readonly models?: { min: number; max?: number; roles?: readonly string[] };
  /** Whether it must be fitted on in-distribution data before scoring (its Detector then has fit/saveState/loadState). */
  readonly fits?: boolean;
  /** The options of DetectorOptions it reads, with a one-line description each. */
  readonly options?: Readonly<Record<string, string>>;
  /** The per-sample columns of its result, with their units. */
  readonly columns: Readonly<Record<string, string>>;
  /** Rows it contributes to result tables (default: one row named after it, meanOf its first column). */
  readonly rows?: readonly ReportRow[];
  /**
   * The registered detector whose results, with the same options and seed, are this one's exactly: the same
   * score and, for each of this spec's columns, the same values (tests/scores/subset.test.ts checks it bit for
   * bit). When both are asked for in one evaluate() call, this one is not scored again but taken from the other
   * (the ELBO from its components: one forward pass instead of two). Only for unfitted detectors of one model.
   */
  readonly subsetOf?: string;
  /** Axis label of its score in histograms. */
  readonly axis: string;
  /** Units of its score, one phrase. */
  readonly units: string;
  /** A detector bound to the model(s). */
  create(ctx: DetectorContext): Detector;
}
