/**
 * SVHN cropped digits (train_32x32.mat, test_32x32.mat, extra_32x32.mat): `X` is H x W x 3 x N uint8 and `y`
 * is N x 1 with labels 1..10, where 10 stands for the digit 0 (the dataset's own convention, mapped to 0 here
 * as torchvision does).
 */
import { OodgenError } from '../errors.js';
import { readMat, readMatHeaders, type MatArray } from './mat.js';
import type { ImageSet } from './types.js';

function find(vars: MatArray[], name: string, path: string): MatArray {
  const v = vars.find((a) => a.name === name);
  if (!v) throw new OodgenError(`SVHN file ${path}: no variable "${name}" (found: ${vars.map((a) => a.name).join(', ') || 'none'}); not an SVHN cropped-digits file`);
  return v;
}

function checkX(x: MatArray, path: string): [number, number, number, number] {
  if (x.dims.length !== 4 || x.dims[2] !== 3) {
    throw new OodgenError(`SVHN file ${path}: X has dimensions ${x.dims.join('x')}; expected H x W x 3 x N`);
  }
  return x.dims as [number, number, number, number];
}

/** Count and shape without reading the pixel data (for `data list`). */
export function svhnInfo(path: string): { count: number; shape: [number, number, number] } {
  const vars = readMatHeaders(path);
  const [h, w, c, n] = checkX(find(vars, 'X', path), path);
  return { count: n, shape: [c, h, w] };
}

export function loadSvhnMat(path: string, name: string): ImageSet {
  const vars = readMat(path);
  const x = find(vars, 'X', path);
  const y = find(vars, 'y', path);
  const [h, w, c, n] = checkX(x, path);
  if (x.className !== 'uint8' || !(x.data instanceof Uint8Array)) {
    throw new OodgenError(`SVHN file ${path}: X is stored as ${x.className}; expected uint8`);
  }
  if (!y.data || y.dims.reduce((a, b) => a * b, 1) !== y.data.length) throw new OodgenError(`SVHN file ${path}: y is not a numeric array`);
  if (y.data.length !== n) throw new OodgenError(`SVHN file ${path}: count mismatch: X holds ${n} images but y holds ${y.data.length} labels`);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = y.data[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 10) throw new OodgenError(`SVHN file ${path}: label ${v} at index ${i} is outside 1-10`);
    labels[i] = v === 10 ? 0 : v;
  }
  // Column-major H x W x C x N to row-major N x C x H x W.
  const src = x.data;
  const images = new Uint8Array(n * c * h * w);
  const plane = h * w;
  for (let k = 0; k < n; k++) {
    for (let ch = 0; ch < c; ch++) {
      const s0 = (k * c + ch) * plane;
      const d0 = (k * c + ch) * plane;
      for (let col = 0; col < w; col++) {
        const s = s0 + col * h;
        for (let row = 0; row < h; row++) images[d0 + row * w + col] = src[s + row]!;
      }
    }
  }
  return { images, shape: [n, c, h, w], labels, name, source: path };
}
