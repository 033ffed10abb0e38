// What several commands share: option parsers, loading a run folder and datasets at the model's size.
import { InvalidArgumentError } from 'commander';
import type { ImageSet, PreprocessingRecord } from '../data/types.js';
import type { LatentModel, ModelConfig } from '../models/types.js';
import { loadRun } from '../train/run.js';
import { loadDataset } from '../data/registry.js';
import type { EvalSet } from '../ood/evaluate.js';
import { shapeConversions } from '../data/conversions.js';
import { OodgenError } from '../errors.js';

export function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}

export const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

export interface LoadedRun {
  model: LatentModel;
  config: { model: ModelConfig; data?: { train?: string } } & Record<string, unknown>;
  dir: string;
}

/** Loads a run folder (src/train/run.ts). */
export async function loadCheckpoint(dir: string, device: string, which: 'final' | 'best' = 'final'): Promise<LoadedRun> {
  const r = loadRun(dir, { device, which });
  return { model: r.model, config: r.config as unknown as LoadedRun['config'], dir };
}

export interface LoadedSet {
  spec: string;
  set: ImageSet;
  preprocessing: PreprocessingRecord;
  /** The channel / size conversions to the model's shape (data/conversions.ts), empty when none. */
  conversions: string[];
}

export interface ShapeOptions {
  /** Refuse a dataset whose channels or size differ from the checkpoint's, instead of converting it. */
  strictShape?: boolean;
  /** Where the conversions are reported (once per loaded set), e.g. stderr. */
  log?: (s: string) => void;
}

/**
 * A dataset spec at the model's image size and channels. A conversion (1 <-> 3 channels, resize) is reported once
 * through `log` and returned in `conversions`; with strictShape it is an error naming the set and the shapes.
 */
export async function loadForModel(spec: string, model: { config: ModelConfig }, limit?: number, seed = 0, o: ShapeOptions = {}): Promise<LoadedSet> {
  const c = model.config;
  const { set, preprocessing } = await loadDataset(spec, { imageSize: c.imageSize, channels: c.channels as 1 | 3, limit, seed });
  const conversions = shapeConversions(preprocessing);
  if (conversions.length) {
    const n = preprocessing.native;
    const what = `${spec}: images are ${n.channels}x${n.height}x${n.width}, the checkpoint expects ${c.channels}x${c.imageSize}x${c.imageSize}`;
    if (o.strictShape) throw new OodgenError(`${what}; --strict-shape refuses the conversion (${conversions.join('; ')})`);
    o.log?.(`${what}: converted (${conversions.join('; ')})`);
  }
  return { spec, set, preprocessing, conversions };
}

/** A loaded set as the evaluation pipeline takes it (named by its spec). */
export function evalSet(d: LoadedSet): EvalSet {
  return { images: d.set.images, shape: d.set.shape, name: d.spec, preprocessing: d.preprocessing };
}
