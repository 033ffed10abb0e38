/**
 * Synthetic out-of-distribution sets used by Nalisnick et al. (2019) and Serra et al. (2020): uniform noise,
 * Gaussian noise and constant images. Generated directly at the requested size and channel count, as uint8 so
 * they pass through the same scaling as real data (x/255), and seeded so a run can be reproduced.
 */
import { Rng } from './rng.js';
import type { ImageSet } from './types.js';

export type SyntheticKind = 'noise' | 'gaussian-noise' | 'constant';

export const SYNTHETIC_DEFAULT_COUNT = 10000;

export const SYNTHETIC_DESCRIPTIONS: Record<SyntheticKind, string> = {
  noise: 'each pixel uniform over the 256 levels',
  'gaussian-noise': 'each pixel N(127.5, 64^2) (mean 0.5, std 0.25 in [0,1] units), clipped to 0..255 and rounded',
  constant: 'each image one colour, each channel uniform over the 256 levels',
};

export function syntheticSet(kind: SyntheticKind, count: number, channels: number, size: number, seed = 0): ImageSet {
  // Distinct streams per kind, so noise:N and constant:N from the same seed are unrelated.
  const rng = new Rng((seed ^ { noise: 0x51ed, 'gaussian-noise': 0x6a55, constant: 0xc0c0 }[kind]) >>> 0);
  const plane = size * size;
  const images = new Uint8Array(count * channels * plane);
  if (kind === 'noise') {
    for (let i = 0; i < images.length; i++) images[i] = rng.nextU32() >>> 24;
  } else if (kind === 'gaussian-noise') {
    for (let i = 0; i < images.length; i++) {
      const v = Math.round(127.5 + 64 * rng.normal());
      images[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  } else {
    for (let k = 0; k < count * channels; k++) images.fill(rng.nextU32() >>> 24, k * plane, (k + 1) * plane);
  }
  return {
    images,
    shape: [count, channels, size, size],
    name: `${kind}:${count}`,
    source: `synthetic ${kind} (${SYNTHETIC_DESCRIPTIONS[kind]}, seed ${seed})`,
  };
}
