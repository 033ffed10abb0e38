// Dataset transforms named after a dataset spec with '+': `fashion-mnist:test+hflip`, `mnist:test+vflip+hflip`.
// They make the "hard" near-OoD pairs of the LPath paper (Fashion-MNIST vs its own horizontally / vertically
// flipped test images) from data already on disk, wherever a dataset is named (train, eval, fit, latent, ...).
// Transforms apply after loading and preprocessing, in the order written.
import { OodgenError } from '../errors.js';
import type { ImageSet } from './types.js';

export const IMAGE_TRANSFORMS = {
  hflip: 'mirror left-right (reverse the width axis)',
  vflip: 'mirror top-bottom (reverse the height axis)',
} as const;
export type ImageTransform = keyof typeof IMAGE_TRANSFORMS;

/** `name[:split]+t1+t2` -> the spec without transforms and the transform names (validated). */
export function splitTransforms(spec: string): { base: string; transforms: ImageTransform[] } {
  const m = /^(.*?)((?:\+[A-Za-z0-9-]+)+)$/.exec(spec);
  if (!m || !m[1]) return { base: spec, transforms: [] };
  const names = m[2]!.slice(1).split('+');
  const bad = names.filter((n) => !(n in IMAGE_TRANSFORMS));
  if (bad.length) {
    throw new OodgenError(`dataset ${JSON.stringify(spec)}: unknown transform ${bad.map((b) => `'+${b}'`).join(', ')} (known: ${Object.keys(IMAGE_TRANSFORMS).map((k) => '+' + k).join(', ')})`);
  }
  return { base: m[1], transforms: names as ImageTransform[] };
}

/** A new image set with the transforms applied (the input is not modified). */
export function applyTransforms(set: ImageSet, transforms: readonly ImageTransform[]): ImageSet {
  if (transforms.length === 0) return set;
  const [n, c, h, w] = set.shape;
  let src = set.images;
  for (const t of transforms) {
    const out = src instanceof Uint8Array ? new Uint8Array(src.length) : new Float32Array(src.length);
    for (let p = 0; p < n * c; p++) {
      const off = p * h * w; // one (H, W) plane
      for (let y = 0; y < h; y++) {
        const sy = t === 'vflip' ? h - 1 - y : y;
        for (let x = 0; x < w; x++) out[off + y * w + x] = src[off + sy * w + (t === 'hflip' ? w - 1 - x : x)]!;
      }
    }
    src = out;
  }
  return { ...set, images: src, name: `${set.name}+${transforms.join('+')}` };
}
