// ELBO and bits/dim of a model on an image set (validation during training, test numbers for docs/results.md),
// and the sample / reconstruction grids of a run.
import { fromTypedArray, mul, add, div, round, rand, cat } from '../engine/ops/index.js';
import { Generator } from '../engine/random.js';
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { imageBatch, dequantizeTensor } from '../data/batches.js';
import { bitsPerDim } from '../models/likelihoods.js';
import type { ImageSet } from '../data/types.js';
import { writeImageGrid } from '../eval/grid.js';
import type { LatentBase } from '../models/vae.js';
import type { TrainableModel } from '../models/types.js';
import { adaptDecoderBatchNorm, restoreDecoderBn, snapshotDecoderBn } from './bn-adapt.js';

/** Images idx of a set as a float32 [0,1] tensor on device (data/batches.ts imageBatch). */
export const batchTensor = (set: ImageSet, index: Int32Array, device: string): Tensor => imageBatch(set, index, device);

export { dequantizeTensor } from '../data/batches.js';

/** Bits per dimension from an ELBO in nats per image of D dimensions (models/likelihoods.ts bitsPerDim). */
export { bitsPerDim };

export interface ElboReport {
  /** Mean ELBO, nats per image (for an AE: the reconstruction log-likelihood). */
  elbo: number;
  logLik: number;
  kl: number;
  bitsPerDim: number;
  n: number;
  dequantized: boolean;
}

/**
 * Mean ELBO over (at most `limit` evenly spaced) images of a set, in eval mode with one posterior sample each, noise
 * from a fresh Generator seeded with `seed` (so two evaluations of the same weights agree exactly).
 */
export function evaluateElbo(model: TrainableModel, set: ImageSet, o: { batchSize?: number; seed?: number; limit?: number; dequantize?: boolean } = {}): ElboReport {
  const n0 = set.shape[0];
  const n = Math.min(n0, o.limit ?? n0);
  const stride = n0 / n;
  const idx = Int32Array.from({ length: n }, (_, i) => Math.floor(i * stride));
  const bs = o.batchSize ?? 256;
  const g = Generator.cpu(o.seed ?? 12345);
  const deq = o.dequantize ?? model.continuousLikelihood;
  const wasTraining = model.training;
  model.eval();
  let sElbo = 0, sLl = 0, sKl = 0;
  try {
    for (let s = 0; s < n; s += bs) {
      const index = idx.subarray(s, Math.min(s + bs, n));
      const [e, l, k] = tidy(() => noGrad(() => {
        let x = batchTensor(set, index, model.device);
        if (deq) x = dequantizeTensor(x, g);
        const t = model.elboTerms(x, g);
        return [t.elbo.sum().item(), t.logLik.sum().item(), t.kl.sum().item()];
      }));
      sElbo += e; sLl += l; sKl += k;
    }
  } finally {
    model.train(wasTraining);
  }
  const [, c, h, w] = set.shape;
  const elbo = sElbo / n;
  return { elbo, logLik: sLl / n, kl: sKl / n, bitsPerDim: bitsPerDim(elbo, c * h * w, model.continuousLikelihood), n, dequantized: deq };
}

/**
 * Writes a sample grid: n prior samples at temperature t, after decoder BN adaptation (undone afterwards unless
 * bnAdapt is 0).
 */
export async function writeSampleGrid(model: LatentBase, path: string, o: { n?: number; temperature?: number; seed?: number; bnAdapt?: number } = {}): Promise<void> {
  const n = o.n ?? 64;
  const g = Generator.cpu(o.seed ?? 0);
  const wasTraining = model.training;
  const snap = (o.bnAdapt ?? 2048) > 0 ? snapshotDecoderBn(model) : null;
  try {
    if (snap) adaptDecoderBatchNorm(model, { samples: o.bnAdapt ?? 2048, temperature: o.temperature, generator: g });
    model.eval();
    const { data, shape } = tidy(() => noGrad(() => {
      const s = model.sample(n, { temperature: o.temperature, generator: g });
      return { data: s.toFloat32Array(), shape: s.shape as [number, number, number, number] };
    }));
    await writeImageGrid(path, data, shape, { nrow: Math.ceil(Math.sqrt(n)), scale: 2 });
  } finally {
    if (snap) restoreDecoderBn(model, snap);
    model.train(wasTraining);
  }
}

/** Writes a reconstruction grid: rows alternate originals and their reconstructions (posterior mean code). */
export async function writeReconstructionGrid(model: LatentBase, set: ImageSet, path: string, o: { n?: number; perRow?: number } = {}): Promise<void> {
  const n = Math.min(o.n ?? 32, set.shape[0]);
  const per = o.perRow ?? 8;
  const stride = set.shape[0] / n;
  const idx = Int32Array.from({ length: n }, (_, i) => Math.floor(i * stride));
  const wasTraining = model.training;
  model.eval();
  try {
    const { data, shape } = tidy(() => noGrad(() => {
      const x = batchTensor(set, idx, model.device);
      const r = model.reconstruct(x);
      const rows: Tensor[] = [];
      for (let s = 0; s < n; s += per) {
        const len = Math.min(per, n - s);
        rows.push(x.narrow(0, s, len), r.narrow(0, s, len));
      }
      const all = cat(rows, 0);
      return { data: all.toFloat32Array(), shape: all.shape as [number, number, number, number] };
    }));
    await writeImageGrid(path, data, shape, { nrow: per, scale: 2 });
  } finally {
    model.train(wasTraining);
  }
}


