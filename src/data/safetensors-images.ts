/**
 * Tensor files: a safetensors file with an `images` tensor (N,C,H,W, or N,H,W for grayscale; uint8, or float32
 * in [0,1]) and optional `labels` (any integer dtype, N elements). The hand-off format for data prepared
 * elsewhere (numpy, torch), and the compact form to carry data to a machine without network.
 */
import { OodgenError } from '../errors.js';
import { readSafetensors, toTypedArray, writeSafetensors, fromTypedArray, type StTensor } from '../io/safetensors.js';
import type { ImageSet } from './types.js';

function labelsOf(t: StTensor, n: number, path: string): Int32Array {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count !== n) throw new OodgenError(`tensor file ${path}: count mismatch: ${n} images but ${count} labels (labels shape [${t.shape.join(', ')}])`);
  switch (t.dtype) {
    case 'I64': return Int32Array.from(toTypedArray(t) as BigInt64Array, (v) => Number(v));
    case 'I32': return Int32Array.from(toTypedArray(t) as Int32Array);
    case 'I16': case 'I8': case 'U8': return Int32Array.from(toTypedArray(t) as Int16Array);
    default: throw new OodgenError(`tensor file ${path}: labels have dtype ${t.dtype}; expected an integer dtype`);
  }
}

export function loadSafetensorsImages(path: string, name: string): ImageSet {
  const file = readSafetensors(path);
  const t = file.tensors.get('images');
  if (!t) throw new OodgenError(`tensor file ${path}: no "images" tensor (found: ${[...file.tensors.keys()].join(', ') || 'none'})`);
  let shape = t.shape;
  if (shape.length === 3) shape = [shape[0]!, 1, shape[1]!, shape[2]!];
  if (shape.length !== 4) throw new OodgenError(`tensor file ${path}: images have shape [${t.shape.join(', ')}]; expected N,C,H,W`);
  const [n, c, h, w] = shape as [number, number, number, number];
  if (c !== 1 && c !== 3) {
    throw new OodgenError(`tensor file ${path}: images have ${c} channels (shape [${t.shape.join(', ')}]); expected 1 or 3 in N,C,H,W order (is it N,H,W,C?)`);
  }
  if (n === 0 || h === 0 || w === 0) throw new OodgenError(`tensor file ${path}: images tensor is empty`);
  let images: Uint8Array | Float32Array;
  if (t.dtype === 'U8') {
    images = (toTypedArray(t) as Uint8Array).slice();
  } else if (t.dtype === 'F32') {
    images = (toTypedArray(t) as Float32Array).slice();
    for (let i = 0; i < images.length; i++) {
      const v = images[i]!;
      // `!(v >= 0 && v <= 1)` also catches NaN.
      if (!(v >= 0 && v <= 1)) {
        throw new OodgenError(`tensor file ${path}: float32 images must lie in [0, 1]; element ${i} is ${v} (normalized data? scale it back first)`);
      }
    }
  } else {
    throw new OodgenError(`tensor file ${path}: images have dtype ${t.dtype}; expected U8 (0..255) or F32 in [0, 1]`);
  }
  const set: ImageSet = { images, shape: [n, c, h, w], name, source: path };
  const lt = file.tensors.get('labels');
  if (lt) set.labels = labelsOf(lt, n, path);
  return set;
}

/** Writes a set in the format `loadSafetensorsImages` reads (used to carry data prepared here elsewhere). */
export function saveSafetensorsImages(path: string, set: ImageSet, metadata?: Record<string, string>): void {
  const tensors: Record<string, StTensor> = { images: fromTypedArray(set.images, [...set.shape]) };
  if (set.labels) tensors.labels = fromTypedArray(set.labels, [set.labels.length]);
  writeSafetensors(path, tensors, metadata);
}
