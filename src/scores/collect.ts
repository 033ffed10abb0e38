// Per-image statistics of a whole image set (consecutive batches, each in tidy, the model's BatchNorm in the given
// mode, running statistics by default): what a detector's fit() needs from its ID data. Between batches it gives the
// event loop a macrotask turn, so a Ctrl-C handler runs during a long fit (a categorical VAE's DoSE statistics on
// 2,000 images take minutes), and it stops with signal.reason when `signal` aborts.
import { tidy, type Tensor } from '../engine/index.js';
import { imageBatch } from '../data/batches.js';
import type { GenerativeModel, LatentModel } from '../models/types.js';
import type { ImageSource } from './types.js';
import { applyBnModes, type BnMode } from './bn-mode.js';
import { macrotaskTurn } from './steps.js';
import { OodgenError } from '../errors.js';

export interface CollectOptions {
  batchSize?: number;
  bn?: BnMode;
  /** Checked before every batch: the collection stops with signal.reason (no partial result). */
  signal?: AbortSignal;
  /** Every model `fn` runs, when more than `model` (LPath's large-latent model): each is put in the BN mode too. */
  models?: readonly GenerativeModel[];
}

// Not through driver.ts: the driver imports the registry, which imports the detectors that import this file.
// With running BatchNorm statistics (the default) a statistic does not depend on the other images of its batch,
// so plain consecutive batches are enough.
export async function collectColumns(
  model: GenerativeModel, images: ImageSource, fn: (x: Tensor) => Record<string, Float32Array>,
  o: CollectOptions = {},
): Promise<Record<string, Float32Array>> {
  const n = images.shape[0];
  const bs = o.batchSize ?? 100;
  if (n < 1) throw new OodgenError(`${images.name ?? 'images'}: no images to fit on`);
  if (!Number.isInteger(bs) || bs < 1) throw new OodgenError(`batch size must be a positive integer, got ${bs}`);
  const out: Record<string, Float32Array> = {};
  const restore = applyBnModes([model, ...(o.models ?? [])], o.bn ?? 'eval');
  try {
    for (let s = 0; s < n; s += bs) {
      await macrotaskTurn(o.signal);
      const idx = Array.from({ length: Math.min(bs, n - s) }, (_, i) => s + i);
      const cols = tidy(() => fn(imageBatch(images, idx, model.device)));
      for (const [k, v] of Object.entries(cols)) {
        if (v.length !== idx.length) throw new OodgenError(`statistic '${k}' has ${v.length} values for a batch of ${idx.length}`);
        (out[k] ??= new Float32Array(n)).set(v, s);
      }
    }
  } finally {
    restore();
  }
  return out;
}

/** Per-image vectors (B x d from fn, row-major) of a whole image set as one row-major n x d Float64Array. */
export async function collectRows(
  model: LatentModel, images: ImageSource, d: number, fn: (x: Tensor) => Float32Array,
  o: CollectOptions = {},
): Promise<Float64Array> {
  const cols = await collectColumns(model, images, (x) => {
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
