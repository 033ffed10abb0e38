// A deterministic 1-channel 32x32 image set for trainer tests (no data files, same pixels every run).
import type { ImageSet } from '../../src/data/types.js';

export function tinySet(n = 24): ImageSet {
  const images = new Float32Array(n * 32 * 32);
  for (let i = 0; i < images.length; i++) images[i] = ((i * 7919 + (i >> 10) * 13) % 256) / 255;
  return { images, shape: [n, 1, 32, 32], name: 'tiny:train', source: 'test' };
}
