// Whether a model has a probability of the 8-bit image (and so a bits/dim; likelihoods.ts bitsPerDim converts it).
//
// Bits per dimension (Theis, van den Oord & Bethge 2016, section 3.1) is -log2 P(x8) / D for the probability P of
// the 8-bit image x8 = round(255 x), D = C * H * W. It is never computed from a density over continuous x here:
// a Gaussian decoder's log P(x8 | z) integrates the density over each level's bin (discretized-gaussian.ts), so an
// ELBO or IWAE built on it is a lower bound on log P(x8), and bits/dim an upper bound on the true bits/dim.
import type { GenerativeModel } from './types.js';

/** Why `model` has no probability of the 8-bit image (so no bits/dim), or null when imageLogProb gives one. */
export function imageProbabilityProblem(model: GenerativeModel): string | null {
  const m = model as GenerativeModel & { imageLogProb?: unknown; imageProbabilityProblem?: string | null };
  if (typeof m.imageLogProb !== 'function') {
    return `model '${model.config.kind}' has no probability of the 8-bit image (no imageLogProb), so it has no bits/dim`;
  }
  return m.imageProbabilityProblem ?? null;
}
