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

/** Per-image vectors (B x d from fn, row-major) of a whole image set as one row-major n x d Float64Array. */
export function collectRows(
  model: LatentModel, images: ImageSource, d: number, fn: (x: Tensor) => Float32Array,
  o: { batchSize?: number; bn?: BnMode } = {},
): Float64Array {
  const cols = collectColumns(model, images, (x) => {
    const v = fn(x);
    const b = x.shape[0]!;
    const out: Record<string, Float32Array> = {};
    for (let j = 0; j < d; j++) {
      const c = (out[`d${j}`] = new Float32Array(b));
      for (let i = 0; i < b; i++) c[i] = v[i * d + j]!;
    }
    return out;
  }, o);
  const n = images.shape[0];
  const X = new Float64Array(n * d);
  for (let j = 0; j < d; j++) {
    const c = cols[`d${j}`]!;
    for (let i = 0; i < n; i++) X[i * d + j] = c[i]!;
  }
  return X;
}
