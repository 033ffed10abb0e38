// The detector contract shared by every score (issue: scores, item 3). Convention of pytorch-ood: a detector maps
// images to one number each, and a HIGHER number means MORE out-of-distribution. Likelihood scores therefore
// return -log p(x); the raw log-likelihoods travel alongside as named columns so nothing is lost.
import type { Tensor } from '../engine/tensor.js';

/** Images as the dataset layer gives them: NCHW, float32 in [0, 1] (or uint8 0..255, scaled by 1/255). */
export interface ImageSource {
  images: Float32Array | Uint8Array;
  shape: [number, number, number, number];
  name?: string;
}

/** One batch's result: the OoD score plus named per-sample columns (raw log-likelihoods, components, ...). */
export interface ScoreBatch {
  score: Float32Array;
  columns: Record<string, Float32Array>;
}

export interface Detector {
  /** Short name used in files and tables: 'elbo', 'iwae', 'bpd', 'components', 'rec'. */
  readonly name: string;
  /** One line: what the score is, with its formula, for JSON output and reports. */
  readonly description: string;
  /** For scores that need the in-distribution data (none of the likelihood scores does). */
  fit?(id: ImageSource): Promise<void>;
  /** Per-sample scores of a batch (B, C, H, W) on the model's device; higher = more OoD. */
  score(x: Tensor): Float32Array;
  /** score() plus the named columns it was computed from. */
  evaluate(x: Tensor): ScoreBatch;
  /** The settings that determine the numbers (K, seed, decode batch, ...), for provenance in JSON. */
  settings(): Record<string, unknown>;
}
