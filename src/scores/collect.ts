// Per-image statistics of a whole image set, through the scores driver (fixed-size batches, each in tidy, the
// model's BatchNorm in the given mode): what a detector's fit() needs from its ID data.
import type { Tensor } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import type { Detector, ImageSource } from './types.js';
import { scoreDataset } from './driver.js';
import type { BnMode } from './bn-mode.js';

export function collectColumns(
  model: LatentModel, images: ImageSource, fn: (x: Tensor) => Record<string, Float32Array>,
  o: { batchSize?: number; bn?: BnMode } = {},
): Record<string, Float32Array> {
  const d: Detector & { model: LatentModel } = {
    name: 'collect', description: 'per-image statistics', model,
    evaluate: (x) => {
      const columns = fn(x);
      return { score: Object.values(columns)[0] ?? new Float32Array(x.shape[0]!), columns };
    },
    score: (x) => d.evaluate(x).score,
    settings: () => ({}),
  };
  return scoreDataset(d, images, { batchSize: o.batchSize ?? 100, bn: o.bn ?? 'eval' }).columns;
}
