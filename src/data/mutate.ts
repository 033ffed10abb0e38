// Input mutation for the background model of the likelihood ratio (Ren, Liu, Fertig, Snoek, Poplin, DePristo,
// Dillon & Lakshminarayanan, NeurIPS 2019, "Likelihood Ratios for Out-of-Distribution Detection", section 3.1):
// each value of a training image (every sub-pixel, independently) is, with probability mu, replaced by a value
// drawn uniformly from the 256 8-bit levels. A model trained on such corrupted inputs learns the population-level
// background statistics and not the semantics, so log p(x) - log p_bg(x) cancels the background term.
// The paper tunes mu on OoD-like validation data; oodgen never sees OoD data and uses a fixed default (0.2, the
// middle of the paper's range 0.1-0.3 for Fashion-MNIST), which the run's config records.
import { OodgenError } from '../errors.js';
import type { Rng } from './rng.js';

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
