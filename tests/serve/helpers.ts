// A tiny trained run for the gate tests: a VAE (width 8, z 4, 1x28x28) trained for a few seconds on smooth blobs,
// so that uniform noise is clearly out of distribution.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { ImageSet } from '../../src/data/types.js';
import { train } from '../../src/train/trainer.js';
import { tempDir } from '../helpers/tmp.js';

export const SIZE = 28;

function lcg(seed: number): () => number {
  let q = seed >>> 0;
  return () => {
    q = (Math.imul(q, 1664525) + 1013904223) >>> 0;
    return q / 4294967296;
  };
}

/** n gray blob images (one soft Gaussian bump each), 8-bit levels as float32 in [0, 1]. */
export function blobs(n: number, seed = 1): ImageSet {
  const r = lcg(seed);
  const images = new Float32Array(n * SIZE * SIZE);
  for (let i = 0; i < n; i++) {
    const cx = 8 + r() * 12, cy = 8 + r() * 12, s = 3 + r() * 3, a = 0.5 + r() * 0.5;
    for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) {
      const v = a * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s));
      images[i * SIZE * SIZE + y * SIZE + x] = Math.round(v * 255) / 255;
    }
  }
  return { images, shape: [n, 1, SIZE, SIZE], name: 'blobs', source: 'test' };
}

/** n uniform-noise images (8-bit levels). */
export function noise(n: number, seed = 2): ImageSet {
  const r = lcg(seed);
  const images = Float32Array.from({ length: n * SIZE * SIZE }, () => Math.floor(r() * 256) / 255);
  return { images, shape: [n, 1, SIZE, SIZE], name: 'noise', source: 'test' };
}

/** Image i of a 1-channel set as a gray PNG (or JPEG). */
export async function encodeImage(set: ImageSet, i: number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const [, , h, w] = set.shape;
  const px = Buffer.from(Array.from(set.images.subarray(i * h * w, (i + 1) * h * w), (v) => Math.round(v * 255)));
  const img = sharp(px, { raw: { width: w, height: h, channels: 1 } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 95 }).toBuffer();
}

/** Pixels of image i as a plain array (the JSON "pixels" form). */
export const pixelsOf = (set: ImageSet, i: number): number[] => Array.from(set.images.subarray(i * SIZE * SIZE, (i + 1) * SIZE * SIZE));

export interface TinyRun { dir: string; root: string; cleanup(): void }

/** Trains the tiny VAE into a temporary run folder (a few seconds). */
export async function tinyRun(kind: 'vae' | 'ae' = 'vae'): Promise<TinyRun> {
  const root = tempDir('serve');
  const dir = join(root, 'run');
  await train({
    out: dir, model: { kind, decoder: 'gaussian', channels: 1, imageSize: SIZE, zDim: 4, width: 8 }, trainSet: blobs(96),
    batchSize: 16, maxSteps: 40, valFraction: 0.1, valLimit: 8, progress: 'none', grids: false, patience: null, seed: 1,
  });
  return { dir, root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
