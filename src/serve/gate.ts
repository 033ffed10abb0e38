// The OoD gate: a trained run, a per-sample scorer and its ID calibration. Library API under the HTTP layer, so
// the same gate can be used in-process (tests, a caller's own server) or through `oodgen serve`.
import { join } from 'node:path';
import { fromTypedArray, tidy } from '../engine/index.js';
import { gatherBatch } from '../data/batches.js';
import type { ImageSet } from '../data/types.js';
import type { LatentModel } from '../models/types.js';
import { loadRun, RUN_FILES } from '../train/run.js';
import { trainingStatus, type TrainingStatus } from '../train/status.js';
import { OodgenError } from '../errors.js';
import { PerSampleScorer, type ScorerOptions } from './scorer.js';
import {
  calibrationFile, histogram, loadCalibration, makeCalibration, pValue, saveCalibration, sha256File, type Calibration,
} from './calibration.js';
import type { InputShape } from './decode.js';
import { subset } from '../data/preprocess.js';
import { detectorStatePaths, loadDetectorState, saveDetectorState } from '../scores/state.js';

export interface GateOptions extends ScorerOptions {
  /** Run folder (config.json + model.safetensors). */
  checkpoint: string;
  detector: string;
  /** ID data to calibrate on (a dataset spec, or images in memory); without it the saved calibration is loaded. */
  calibrate?: string | ImageSet;
  /** Fraction of ID calibration images let through (default 0.95). */
  tpr?: number;
  /** At most this many calibration images (evenly spaced). */
  calibrateLimit?: number;
  device?: string;
  which?: 'final' | 'best';
  log?: (line: string) => void;
}

/** What a fresh thread needs to rebuild the gate's scorer (a scoring worker): set by openGate. */
export interface GateSource {
  checkpoint: string;
  which: 'final' | 'best';
  device: string;
  detector: string;
  k: number;
  samples: number;
  seed: number;
}

export interface GateResult {
  /** null when the score is not finite (then treated as maximally OoD). */
  score: number | null;
  threshold: number;
  ood: boolean;
  pValue: number;
}

export class Gate {
  readonly input: InputShape;
  private readonly sorted: Float64Array;
  constructor(
    readonly model: LatentModel, readonly scorer: PerSampleScorer, readonly calibration: Calibration, readonly runDir: string, readonly source?: GateSource,
    /** How far the model's training got (its folder's status.json or state.json), for /v1/info. */
    readonly training?: TrainingStatus,
  ) {
    this.input = { channels: model.config.channels, size: model.config.imageSize };
    this.sorted = Float64Array.from(calibration.scores);
  }

  get threshold(): number {
    return this.calibration.threshold;
  }

  /** The decision for one score. */
  decide(score: number): GateResult {
    const t = this.calibration.threshold;
    // A non-finite score (an overflowing likelihood) is treated as maximally OoD.
    const s = Number.isNaN(score) ? Infinity : score;
    return { score: Number.isFinite(s) ? s : null, threshold: t, ood: s > t, pValue: pValue(this.sorted, s) };
  }

  /** Scores images (each float32 CHW at the model's size) as one batch; reconstructions in [0, 1] when asked. */
  scoreBatch(xs: Float32Array[], withReconstruction = false): { scores: Float32Array; reconstructions?: Float32Array[] } {
    const per = this.input.channels * this.input.size * this.input.size;
    const r = scorePacked(this.scorer, this.input, packInputs(xs, per), xs.length, withReconstruction);
    return r.reconstructions ? { scores: r.scores, reconstructions: xs.map((_, i) => r.reconstructions!.slice(i * per, (i + 1) * per)) } : { scores: r.scores };
  }

  histogram(bins = 30): { edges: number[]; counts: number[] } {
    return histogram(this.calibration.scores, bins);
  }

  info(): Record<string, unknown> {
    return {
      detector: this.scorer.name, description: this.scorer.description, settings: this.scorer.settings(),
      model: this.model.config, input: this.input, threshold: this.threshold, tpr: this.calibration.tpr,
      calibration: { data: this.calibration.data, n: this.calibration.scores.length, createdAt: this.calibration.createdAt },
      ...(this.training ? { training: this.training } : {}),
    };
  }

  dispose(): void {
    this.scorer.dispose();
    this.model.dispose();
  }
}

/** Images (each `per` float32 values, CHW) packed into one (B, C, H, W) buffer. */
export function packInputs(xs: Float32Array[], per: number): Float32Array {
  const buf = new Float32Array(xs.length * per);
  xs.forEach((x, i) => {
    if (x.length !== per) throw new OodgenError(`image ${i}: ${x.length} values, expected ${per}`);
    buf.set(x, i * per);
  });
  return buf;
}

/**
 * Scores n packed images with `scorer`, in this thread or a scoring worker's (the one place a served batch meets
 * libtorch); reconstructions as one packed (B, C, H, W) buffer when asked.
 */
export function scorePacked(scorer: PerSampleScorer, input: InputShape, buf: Float32Array, n: number, withReconstruction: boolean): { scores: Float32Array; reconstructions?: Float32Array } {
  const { channels: c, size: s } = input;
  if (buf.length !== n * c * s * s) throw new OodgenError(`a batch of ${n} images needs ${n * c * s * s} values, got ${buf.length}`);
  return tidy(() => {
    const dev = scorer.model.device;
    const x = fromTypedArray(buf, [n, c, s, s], dev === 'cpu' ? {} : { device: dev }); // (B, C, H, W)
    const scores = scorer.score(x);
    return withReconstruction ? { scores, reconstructions: scorer.reconstruct(x) } : { scores };
  });
}

/** Scores an ID set in batches with the gate's scorer (same noise bank and BN mode as served requests). */
function scoreSet(scorer: PerSampleScorer, set: ImageSet, batch = 64): Float32Array {
  const [n, c, h, w] = set.shape;
  const out = new Float32Array(n);
  const dev = scorer.model.device;
  for (let s = 0; s < n; s += batch) {
    const idx = Array.from({ length: Math.min(batch, n - s) }, (_, i) => s + i);
    const r = tidy(() => scorer.score(fromTypedArray(gatherBatch(set, idx).x, [idx.length, c, h, w], dev === 'cpu' ? {} : { device: dev })));
    out.set(r, s);
  }
  return out;
}

/**
 * Refuses a scorer whose score of an image moves with its batch-mates or between calls (a detector drawing fresh
 * noise per batch, or using batch statistics inside): up to 4 images scored together, alone, and in reverse order.
 */
export function checkPerSample(scorer: PerSampleScorer, set: ImageSet, tol = 1e-4): void {
  const [n0, c, h, w] = set.shape;
  const n = Math.min(4, n0);
  if (n < 2) return;
  const dev = scorer.model.device;
  const run = (idx: number[]) => tidy(() => scorer.score(fromTypedArray(gatherBatch(set, idx).x, [idx.length, c, h, w], dev === 'cpu' ? {} : { device: dev })));
  const idx = Array.from({ length: n }, (_, i) => i);
  const together = run(idx);
  const reversed = run([...idx].reverse()).reverse();
  for (const i of idx) {
    const alone = run([i])[0]!;
    for (const [how, v] of [['in a batch', together[i]!], ['in a reversed batch', reversed[i]!]] as const) {
      if (!(Math.abs(v - alone) <= tol * Math.max(1, Math.abs(alone)))) {
        throw new OodgenError(`detector '${scorer.name}' cannot be served: the score of calibration image ${i} is ${alone} alone and ${v} ${how}, so an answer would depend on the other requests in its micro-batch`);
      }
    }
  }
}

/** Loads the run, builds the scorer, and computes (and saves) or loads the calibration. */
export async function openGate(o: GateOptions): Promise<Gate> {
  const log = o.log ?? (() => undefined);
  // A gate on a model whose training has not ended (a zoo model exported mid-run, a run still training) still serves,
  // but warns: its threshold is calibrated on weights that are not the final ones. One that a step or epoch cap ended
  // (a fixed-length recipe, the demo's) gets a note.
  const training = trainingStatus(o.checkpoint);
  if (!training.done) log(`warning: ${o.checkpoint}: ${training.text}`);
  else if (training.converged === false) log(`note: ${o.checkpoint}: ${training.text}`);
  const { model } = loadRun(o.checkpoint, { device: o.device ?? 'cpu', which: o.which });
  let scorer: PerSampleScorer | undefined;
  try {
    scorer = new PerSampleScorer(model, o.detector, o);
    const weightsPath = join(o.checkpoint, o.which === 'best' ? RUN_FILES.best : RUN_FILES.model);
    const sha256 = sha256File(weightsPath);
    const file = calibrationFile(o.checkpoint, scorer.name);
    const det = scorer.detector;
    const fitted = det.fit ? loadDetectorState(o.checkpoint, det) : true;
    if (!fitted && o.calibrate === undefined) {
      throw new OodgenError(`detector '${scorer.name}' must be fitted on in-distribution data and ${detectorStatePaths(o.checkpoint, scorer.name).json} does not exist; give --calibrate DATA (half of it fits the detector, the other half calibrates)`);
    }
    // A calibration belongs to the scorer's settings and, for a fitted detector, to its fitted state.
    const settings = (): Record<string, unknown> => (det.fit ? { ...scorer!.settings(), state: sha256File(detectorStatePaths(o.checkpoint, scorer!.name).json) } : scorer!.settings());
    let cal: Calibration;
    if (o.calibrate !== undefined) {
      const cfg = model.config;
      let set: ImageSet;
      let data: string;
      if (typeof o.calibrate === 'string') {
        const { loadDataset } = await import('../data/registry.js');
        set = (await loadDataset(o.calibrate, { imageSize: cfg.imageSize, channels: cfg.channels as 1 | 3, limit: o.calibrateLimit })).set;
        data = o.calibrate;
      } else {
        set = o.calibrate;
        data = set.name;
        const [, c, h, w] = set.shape;
        if (c !== cfg.channels || h !== cfg.imageSize || w !== cfg.imageSize) {
          throw new OodgenError(`calibration images ${set.name} are ${c}x${h}x${w}; the model takes ${cfg.channels}x${cfg.imageSize}x${cfg.imageSize}`);
        }
      }
      if (!fitted) {
        // Fit and calibrate on disjoint halves: calibrating on the fitting images would make ID look more typical
        // than it is, and the threshold too low.
        const n = set.shape[0];
        if (n < 4) throw new OodgenError(`detector '${scorer.name}' fits and calibrates on halves of ${data}, which has only ${n} images`);
        const half = Math.floor(n / 2);
        const fitSet = subset(set, Array.from({ length: half }, (_, i) => i), `${data} (first ${half})`);
        set = subset(set, Array.from({ length: n - half }, (_, i) => half + i), `${data} (last ${n - half})`);
        log(`fitting ${scorer.name} on ${half} images of ${data}`);
        await det.fit!(fitSet, { data: fitSet.name });
        saveDetectorState(o.checkpoint, det);
        data = set.name;
      }
      checkPerSample(scorer, set);
      log(`calibrating ${scorer.name} on ${set.shape[0]} images of ${data}`);
      cal = makeCalibration(scoreSet(scorer, set), { tpr: o.tpr ?? 0.95, data, settings: settings(), weights: { file: weightsPath, sha256 } });
      saveCalibration(file, cal);
      log(`calibration saved to ${file} (threshold ${cal.threshold.toPrecision(6)} at TPR ${cal.tpr})`);
    } else {
      if (o.tpr !== undefined) throw new OodgenError('--tpr applies to a new calibration; give --calibrate DATA with it');
      cal = loadCalibration(file, { settings: settings(), sha256 });
    }
    const source: GateSource = {
      checkpoint: o.checkpoint, which: o.which ?? 'final', device: o.device ?? 'cpu', detector: scorer.name, k: scorer.k, samples: scorer.samples, seed: scorer.seed,
    };
    return new Gate(model, scorer, cal, o.checkpoint, source, training);
  } catch (e) {
    scorer?.dispose();
    model.dispose();
    throw e;
  }
}
