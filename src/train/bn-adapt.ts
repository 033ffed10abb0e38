// Decoder BatchNorm adaptation for sampling (Chen 2021, section 3.3.5). The decoder's running statistics are those
// of decoding posterior codes of real images; prior codes z ~ N(0, I) give differently scaled activations, and
// samples come out dark or washed out. Recomputing the statistics on prior samples fixes that: reset the running
// mean/variance, then decode several batches of prior samples in train mode with a cumulative average (PyTorch's
// momentum=None: momentum 1/k on the k-th batch), without gradients.
import type { Generator } from '../engine/random.js';
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import { fill_, zero_, mul } from '../engine/ops/index.js';
import { batchNormsIn, type BatchNorm2d, type BatchNorm1d } from '../nn/batchnorm.js';
import type { Tensor } from '../engine/tensor.js';
import type { LatentBase } from '../models/vae.js';
import { cpuNoise } from '../models/vae.js';
import { clone, copy_ } from '../engine/ops/index.js';

type BN = BatchNorm2d | BatchNorm1d;

function decoderBns(model: LatentBase): BN[] {
  return batchNormsIn(model.decoder);
}

export interface BnAdaptOptions {
  /** Prior samples to average over (default 2048). */
  samples?: number;
  batchSize?: number;
  /** Latent temperature of the prior samples (default 1). */
  temperature?: number;
  generator?: Generator;
}

/** A copy of the decoder's BN buffers, to undo an adaptation. Dispose with restoreDecoderBn. */
export function snapshotDecoderBn(model: LatentBase): Tensor[][] {
  return noGrad(() => decoderBns(model).map((b) => [clone(b.runningMean), clone(b.runningVar), clone(b.numBatchesTracked)]));
}

export function restoreDecoderBn(model: LatentBase, snap: Tensor[][]): void {
  noGrad(() => decoderBns(model).forEach((b, i) => {
    copy_(b.runningMean, snap[i][0]);
    copy_(b.runningVar, snap[i][1]);
    copy_(b.numBatchesTracked, snap[i][2]);
  }));
  for (const s of snap) for (const t of s) t.dispose();
}

/**
 * Recomputes the running statistics of every BatchNorm in the decoder on prior samples. Leaves the model in eval
 * mode. Returns the number of BN layers adapted.
 */
export function adaptDecoderBatchNorm(model: LatentBase, o: BnAdaptOptions = {}): number {
  const bns = decoderBns(model);
  if (bns.length === 0) return 0;
  const n = o.samples ?? 2048, bs = Math.min(o.batchSize ?? 256, n), t = o.temperature ?? 1;
  const saved = bns.map((b) => ({ momentum: b.momentum, mode: b.statsMode }));
  noGrad(() => {
    for (const b of bns) {
      zero_(b.runningMean);
      fill_(b.runningVar, 1);
      zero_(b.numBatchesTracked);
      b.statsMode = 'auto';
    }
  });
  model.eval();
  model.decoder.train(true);
  try {
    let k = 0;
    for (let done = 0; done < n; done += bs) {
      k += 1;
      // Cumulative average: the k-th batch gets weight 1/k. BatchNorm's momentum is a plain field at run time.
      for (const b of bns) (b as unknown as { momentum: number }).momentum = 1 / k;
      const m = Math.min(bs, n - done);
      tidy(() => noGrad(() => {
        const z = mul(cpuNoise([m, model.config.zDim], model.device, o.generator), t);
        model.decoder.forward(z);
      }));
    }
  } finally {
    bns.forEach((b, i) => {
      (b as unknown as { momentum: number }).momentum = saved[i].momentum;
      b.statsMode = saved[i].mode;
    });
    model.eval();
  }
  return bns.length;
}
