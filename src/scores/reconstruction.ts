// Reconstruction error: the squared distance between an image and the decoder mean at the posterior mean code,
//
//   rec(x) = || x - mean(decode(mu(x))) ||^2   (sum over the C*H*W pixels of x in [0, 1]),
//
// the classic autoencoder novelty score (Japkowicz et al. 1995; Sakurada & Yairi 2014; the seed's AE baseline).
// It is the only score an AE has (it defines no likelihood); for VAEs it ignores the variance of q and the prior.
// Higher error = more OoD. Columns: sse (the score) and mse (sse / D).
import { Tensor, tidy, noGrad, sum, square, sub } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import type { Detector, DetectorSpec, ScoreBatch } from './types.js';

/** Per-image squared error (B,) of the reconstruction from the posterior mean (or the AE code). */
export function reconstructionError(model: LatentModel, x: Tensor): Tensor {
  return noGrad(() => tidy(() => {
    const rec = model.mean(model.decode(model.encode(x).mu));
    return sum(square(sub(rec, x)), [1, 2, 3]);
  }));
}

/** The decoder mean at the posterior mean code (B, C, H, W), for reconstruction figures. */
export function reconstruct(model: LatentModel, x: Tensor): Tensor {
  return noGrad(() => tidy(() => model.mean(model.decode(model.encode(x).mu))));
}

export class ReconstructionDetector implements Detector {
  readonly name: string = 'rec';
  readonly description: string = 'reconstruction error ||x - mean(decode(mu(x)))||^2 summed over pixels';
  constructor(readonly model: LatentModel) {}
  evaluate(x: Tensor): ScoreBatch {
    const sse = tidy(() => reconstructionError(this.model, x).toFloat32Array());
    const [, c, h, w] = x.shape as [number, number, number, number];
    const mse = sse.map((v) => v / (c * h * w));
    return { score: sse, columns: { sse, mse } };
  }
  score(x: Tensor): Float32Array {
    return this.evaluate(x).score;
  }
  settings(): Record<string, unknown> {
    return { code: 'posterior mean' };
  }
}

export const reconstructionSpec: DetectorSpec = {
  name: 'rec',
  title: 'reconstruction error ||x - mean(decode(mu(x)))||^2 summed over pixels',
  reference: 'Japkowicz, Myers & Gluck, IJCAI 1995; Sakurada & Yairi, MLSDA 2014',
  granularity: 'sample',
  needs: ['encode', 'decode'],
  columns: { sse: 'sum of squares over pixels', mse: 'mean square per pixel' },
  axis: 'reconstruction error (sum of squares)',
  units: 'squared error summed over pixels',
  create: ({ model }) => new ReconstructionDetector(model as LatentModel),
};
