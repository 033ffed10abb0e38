// Input mutation for the background model of the likelihood ratio (Ren, Liu, Fertig, Snoek, Poplin, DePristo,
// Dillon & Lakshminarayanan, NeurIPS 2019, "Likelihood Ratios for Out-of-Distribution Detection", section 3.1):
// each value of a training image (every sub-pixel, independently) is, with probability mu, replaced by a value
// drawn uniformly from the 256 8-bit levels. A model trained on such corrupted inputs learns the population-level
// background statistics and not the semantics, so log p(x) - log p_bg(x) cancels the background term.
// The paper tunes mu on OoD-like validation data; oodgen never sees OoD data and uses a fixed default (0.2, the
// middle of the paper's range 0.1-0.3 for Fashion-MNIST), which the run's config records.
import { OodgenError } from '../errors.js';
import type { Rng } from './rng.js';
import { tidy, rand, lt, mul, floor, div, where, type Tensor, type Generator } from '../engine/index.js';

export const DEFAULT_MUTATION_RATE = 0.2;

export function checkMutationRate(mu: number): number {
  if (!(mu >= 0 && mu <= 1) || !Number.isFinite(mu)) throw new OodgenError(`--mutate must be a rate in [0, 1], got ${mu}`);
  return mu;
}

/**
 * Mutates a batch of images in [0, 1] in place: each value becomes k/255, k uniform in 0..255, with probability
 * mu. Returns the number of values replaced (a replacement may draw the same level).
 */
export function mutateInPlace(x: Float32Array, mu: number, rng: Rng): number {
  checkMutationRate(mu);
  let replaced = 0;
  if (mu === 0) return 0;
  for (let i = 0; i < x.length; i++) {
    if (rng.next() < mu) {
      x[i] = rng.int(256) / 255;
      replaced++;
    }
  }
  return replaced;
}

/**
 * The same mutation on a batch tensor in [0, 1] (the trainer's path): two uniform draws per value from `generator`
 * on the CPU (which values mutate, and their new levels floor(256 u) / 255), moved to the batch's device, so a run
 * is reproducible and resumable from the generator's saved state.
 */
export function mutateTensor(x: Tensor, mu: number, generator: Generator): Tensor {
  checkMutationRate(mu);
  if (mu === 0) return x;
  return tidy(() => {
    const onDev = (t: Tensor) => (x.device === 'cpu' ? t : t.to(x.device));
    const mask = onDev(lt(rand(x.shape, { generator }), mu));
    const levels = onDev(div(floor(mul(rand(x.shape, { generator }), 256)), 255));
    return where(mask, levels, x);
  });
}
