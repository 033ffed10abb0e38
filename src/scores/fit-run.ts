// Fitting a detector for a run folder: its in-distribution data is the run's own held-out validation split (the
// training spec, preprocessing, limit, validation fraction and seed recorded in config.json, split exactly as the
// trainer split it), never OoD data. The fitted state goes to RUN/detectors/NAME.* and is reused when present.
import { loadDataset } from '../data/registry.js';
import { subset, trainValSplit } from '../data/preprocess.js';
import type { RunConfig } from '../train/run.js';
import { OodgenError } from '../errors.js';
import type { Detector, ImageSource } from './types.js';
import { loadDetectorState, saveDetectorState } from './state.js';

export interface FitDataOptions {
  /** At most this many ID images (evenly spaced over the split; default 2000). */
  limit?: number;
  /** 'val' (default: the held-out validation split) or 'train' (the images the model was trained on). */
  split?: 'val' | 'train';
}

/** The run's ID fitting images and a description of them. */
export async function runFitData(config: RunConfig, o: FitDataOptions = {}): Promise<{ images: ImageSource; description: string }> {
  const d = config.data;
  if (d.train === 'in-memory') throw new OodgenError('this run was trained on in-memory images: fit its detectors through the API (detector.fit) with ID images');
  const { set } = await loadDataset(d.train, { imageSize: d.imageSize, channels: d.channels as 1 | 3, limit: d.limit, seed: config.seed });
  const split = o.split ?? 'val';
  let idx = d.valFraction > 0 ? trainValSplit(set.shape[0], d.valFraction, config.seed)[split] : Int32Array.from({ length: set.shape[0] }, (_, i) => i);
  const limit = o.limit ?? 2000;
  if (!Number.isInteger(limit) || limit < 2) throw new OodgenError(`fit limit must be an integer >= 2, got ${limit}`);
  if (idx.length > limit) idx = Int32Array.from({ length: limit }, (_, i) => idx[Math.floor((i * idx.length) / limit)]!);
  if (idx.length < 2) throw new OodgenError(`${d.train}: the ${split} split has ${idx.length} images; too few to fit a detector`);
  const s = subset(set, idx);
  const description = `${d.train} ${split === 'val' ? `validation split (${d.valFraction} of the data, seed ${config.seed})` : 'training split'}, ${idx.length} images`;
  return { images: { images: s.images, shape: s.shape, name: description }, description };
}

/**
 * Makes a detector ready to score for a run: nothing for detectors without fit; otherwise loads RUN/detectors/NAME.*
 * when present, else fits on the run's ID data and saves the state. Returns what happened, for the log.
 */
export async function ensureFitted(
  det: Detector, runDir: string, config: RunConfig, o: FitDataOptions & { refit?: boolean; batchSize?: number; log?: (s: string) => void } = {},
): Promise<'none' | 'loaded' | 'fitted'> {
  if (!det.fit) return 'none';
  if (!o.refit && loadDetectorState(runDir, det)) {
    o.log?.(`${det.name}: using the fitted state in ${runDir}/detectors/${det.name}.json`);
    return 'loaded';
  }
  const data = await runFitData(config, o);
  o.log?.(`${det.name}: no fitted state in ${runDir}/detectors; fitting on ${data.description} (in-distribution only)`);
  await det.fit(data.images, { batchSize: o.batchSize, data: data.description });
  const files = saveDetectorState(runDir, det);
  o.log?.(`${det.name}: fitted state saved to ${files.join(', ')}`);
  return 'fitted';
}
