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
import { hasCapabilities } from '../models/capabilities.js';
import { OodgenError } from '../errors.js';
import { imageProbabilityProblem } from '../models/image-probability.js';
import { adaptDecoderBatchNorm, restoreDecoderBn, snapshotDecoderBn } from './bn-adapt.js';

/** Images idx of a set as a float32 [0,1] tensor on device (data/batches.ts imageBatch). */
export const batchTensor = (set: ImageSet, index: Int32Array, device: string): Tensor => imageBatch(set, index, device);

export { dequantizeTensor } from '../data/batches.js';

/** Bits per dimension from a log-probability in nats of the 8-bit image of D dimensions (models/likelihoods.ts). */
export { bitsPerDim };

export interface ElboReport {
  /** Mean ELBO, nats per image, of the training objective (dequantized x for a density; for an AE: the reconstruction log-likelihood). */
  elbo: number;
  logLik: number;
  kl: number;
  /**
   * Bits/dim of the 8-bit image: -E[ELBO8] / (D ln 2), ELBO8 the ELBO with log P(x8 | z) (imageLogProb: the
   * discretized Gaussian / the categorical softmax) on the images as stored (not dequantized), so a bound on
   * log P(x8). null when the model has no probability of the 8-bit image (bitsPerDimNote says why).
   */
  bitsPerDim: number | null;
  /** Mean ELBO8 (nats per image), the bound bitsPerDim comes from, or null. */
  imageElbo: number | null;
  bitsPerDimNote: string;
  n: number;
  dequantized: boolean;
}

/** Throws when a per-image value is NaN or infinite, naming the set, the quantity and the image (its index in the set). */
function assertFinite(v: Float32Array, what: string, index: Int32Array, set: string): void {
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) {
      throw new OodgenError(`${set}: the ${what} of image ${index[i]} is ${v[i]}; the model gives it no finite value (a diverged or corrupted checkpoint?), so there is no mean to report`);
    }
  }
}

/**
 * Mean ELBO over (at most `limit` evenly spaced) images of a set, in eval mode with one posterior sample each, noise
 * from a fresh Generator seeded with `seed` (so two evaluations of the same weights agree exactly); and bits/dim of
 * the 8-bit image from a second pass with log P(x8 | z). A NaN or infinite per-image value is an error naming the
 * set and the image (its index in the set).
 */
export function evaluateElbo(model: TrainableModel, set: ImageSet, o: { batchSize?: number; seed?: number; limit?: number; dequantize?: boolean } = {}): ElboReport {
  const n0 = set.shape[0];
  const n = Math.min(n0, o.limit ?? n0);
  const stride = n0 / n;
  const idx = Int32Array.from({ length: n }, (_, i) => Math.floor(i * stride));
  const bs = o.batchSize ?? 256;
  const g = Generator.cpu(o.seed ?? 12345);
  const g8 = Generator.cpu((o.seed ?? 12345) + 1);
  const deq = o.dequantize ?? model.continuousLikelihood;
  const problem = imageProbabilityProblem(model);
  const name = set.name ?? 'images';
  const wasTraining = model.training;
  model.eval();
  let sElbo = 0, sLl = 0, sKl = 0, sElbo8 = 0;
  try {
    for (let s = 0; s < n; s += bs) {
      const index = idx.subarray(s, Math.min(s + bs, n));
      const [e, l, k, e8] = tidy(() => noGrad(() => {
        const raw = batchTensor(set, index, model.device);
        const t = model.elboTerms(deq ? dequantizeTensor(raw, g) : raw, g);
        const t8 = problem ? null : model.elboTerms(raw, g8, { image: true });
        return [t.elbo.toFloat32Array(), t.logLik.toFloat32Array(), t.kl.toFloat32Array(), t8?.elbo.toFloat32Array() ?? null] as const;
      }));
      assertFinite(e, 'ELBO', index, name);
      if (e8) assertFinite(e8, 'ELBO of the 8-bit image', index, name);
      for (let i = 0; i < e.length; i++) {
        sElbo += e[i]!; sLl += l[i]!; sKl += k[i]!;
        if (e8) sElbo8 += e8[i]!;
      }
    }
  } finally {
    model.train(wasTraining);
  }
  const [, c, h, w] = set.shape;
  const D = c * h * w;
  // A flow (no probability of the 8-bit image, an exact density instead): its bits/dim is the one its papers report,
  // from the density of uniformly dequantized images rescaled to [0, 256)^D, a bound on the 8-bit image's (Theis,
  // van den Oord & Bethge 2016): -(E log p(x~) - D log 256) / (D log 2), the same as its training loss.
  const flowBpd = problem !== null && deq && typeof (model as { bitsPerDim?: unknown }).bitsPerDim === 'function';
  const imageElbo = problem ? (flowBpd ? sElbo / n - D * Math.log(256) : null) : sElbo8 / n;
  return {
    elbo: sElbo / n, logLik: sLl / n, kl: sKl / n,
    bitsPerDim: imageElbo === null ? null : bitsPerDim(imageElbo, D),
    imageElbo,
    bitsPerDimNote: flowBpd ? 'bits/dim from the exact density of the uniformly dequantized images on [0, 256)^D (the flow\'s training objective; a bound on the 8-bit image\'s)' : problem ?? (model.continuousLikelihood
      ? 'bits/dim of the 8-bit image from the ELBO with the Gaussian integrated over each level\'s bin (discretized Gaussian)'
      : 'bits/dim of the 8-bit image from the ELBO with the decoder\'s probability of the 8-bit levels'),
    n, dequantized: deq,
  };
}

/**
 * Writes a sample grid: n prior samples at temperature t, after decoder BN adaptation (undone afterwards unless
 * bnAdapt is 0; skipped for models without BatchNorm, e.g. a flow). Returns the samples.
 */
export async function writeSampleGrid(model: LatentBase, path: string, o: { n?: number; temperature?: number; seed?: number; bnAdapt?: number } = {}): Promise<{ data: Float32Array; shape: [number, number, number, number] }> {
  const n = o.n ?? 64;
  const g = Generator.cpu(o.seed ?? 0);
  const wasTraining = model.training;
  const snap = (o.bnAdapt ?? 2048) > 0 && hasCapabilities(model, ['batchnorm']) ? snapshotDecoderBn(model) : null;
  try {
    if (snap) adaptDecoderBatchNorm(model, { samples: o.bnAdapt ?? 2048, temperature: o.temperature, generator: g });
    model.eval();
    const { data, shape } = tidy(() => noGrad(() => {
      const s = model.sample(n, { temperature: o.temperature, generator: g });
      return { data: s.toFloat32Array(), shape: s.shape as [number, number, number, number] };
    }));
    await writeImageGrid(path, data, shape, { nrow: Math.ceil(Math.sqrt(n)), scale: 2 });
    return { data, shape };
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


