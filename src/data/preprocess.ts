/**
 * Preprocessing on typed arrays: resize + center crop, channel conversion, scaling to [0,1], dequantization
 * noise and the seeded train/validation split. No engine dependency: this runs once at load (except
 * dequantization, which batches.ts applies per batch so every epoch sees fresh noise).
 */
import { OodgenError } from '../errors.js';
import { Rng, permutation } from './rng.js';
import type { ImageSet } from './types.js';

interface Coeffs { start: Int32Array; count: Int32Array; weights: Float32Array; stride: number }

/**
 * Resampling weights for one axis, the way PIL computes them for its antialiased bilinear filter (what
 * torchvision's Resize does on PIL images): a triangle filter widened by the downscale factor, so shrinking
 * averages every source pixel instead of skipping some, and plain bilinear (align_corners=False) when enlarging.
 * Only output indices [offset, offset+count) of a `outFull`-long axis are computed: that is the center crop.
 */
function axisCoeffs(inSize: number, outFull: number, offset: number, count: number): Coeffs {
  const scale = inSize / outFull;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(count);
  const cnt = new Int32Array(count);
  const weights = new Float32Array(count * stride);
  for (let j = 0; j < count; j++) {
    const center = (j + offset + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    const k = Math.min(xmax - xmin, stride);
    for (let x = 0; x < k; x++) {
      const t = Math.abs((x + xmin - center + 0.5) / filterScale);
      const w = t < 1 ? 1 - t : 0;
      weights[j * stride + x] = w;
      total += w;
    }
    if (total > 0) for (let x = 0; x < k; x++) weights[j * stride + x]! /= total;
    start[j] = xmin;
    cnt[j] = k;
  }
  return { start, count: cnt, weights, stride };
}

export interface ResizePlan {
  /** Size after resizing the shorter side, before cropping. */
  resizedH: number;
  resizedW: number;
  cropTop: number;
  cropLeft: number;
}

export function planResize(h: number, w: number, size: number): ResizePlan {
  const s = Math.min(h, w);
  const resizedH = h === s ? size : Math.round((h * size) / s);
  const resizedW = w === s ? size : Math.round((w * size) / s);
  return { resizedH, resizedW, cropTop: Math.floor((resizedH - size) / 2), cropLeft: Math.floor((resizedW - size) / 2) };
}

/**
 * Resizes every image so its shorter side is `size`, center-crops to size x size, and scales to float32 [0,1].
 * Separable (rows, then columns) so 60,000 Fashion-MNIST images go from 28x28 to 32x32 in well under a second.
 */
export function resizeCenterCrop(set: ImageSet, size: number): ImageSet {
  const [n, c, h, w] = set.shape;
  if (!Number.isInteger(size) || size < 1) throw new OodgenError(`image size must be a positive integer, got ${size}`);
  const src = set.images;
  const inScale = src instanceof Uint8Array ? 1 / 255 : 1;
  const out = new Float32Array(n * c * size * size);
  if (h === size && w === size) {
    for (let i = 0; i < src.length; i++) out[i] = src[i]! * inScale;
    return { ...set, images: out, shape: [n, c, size, size] };
  }
  const plan = planResize(h, w, size);
  const cx = axisCoeffs(w, plan.resizedW, plan.cropLeft, size);
  const cy = axisCoeffs(h, plan.resizedH, plan.cropTop, size);
  const tmp = new Float32Array(h * size);
  const planes = n * c;
  const cxs = cx.start, cxn = cx.count, cxw = cx.weights, sx = cx.stride;
  const cys = cy.start, cyn = cy.count, cyw = cy.weights, sy = cy.stride;
  for (let p = 0; p < planes; p++) {
    const base = p * h * w;
    // Horizontal pass: h rows of w -> h rows of size.
    for (let y = 0; y < h; y++) {
      const r = base + y * w;
      const t0 = y * size;
      for (let j = 0; j < size; j++) {
        const s0 = r + cxs[j]!;
        const k = cxn[j]!;
        const wo = j * sx;
        let acc = 0;
        for (let x = 0; x < k; x++) acc += src[s0 + x]! * cxw[wo + x]!;
        tmp[t0 + j] = acc;
      }
    }
    // Vertical pass: h rows of size -> size rows of size.
    const ob = p * size * size;
    for (let i = 0; i < size; i++) {
      const y0 = cys[i]!;
      const k = cyn[i]!;
      const wo = i * sy;
      const o0 = ob + i * size;
      for (let j = 0; j < size; j++) {
        let acc = 0;
        for (let y = 0; y < k; y++) acc += tmp[(y0 + y) * size + j]! * cyw[wo + y]!;
        const v = acc * inScale;
        // Weights are non-negative and sum to 1, so only float rounding can step outside [0,1].
        out[o0 + j] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
  return { ...set, images: out, shape: [n, c, size, size] };
}

/** Scales uint8 to float32 [0,1]; float32 sets are returned as they are. */
export function toFloat(set: ImageSet): ImageSet {
  if (set.images instanceof Float32Array) return set;
  const src = set.images;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! / 255;
  return { ...set, images: out };
}

/** ITU-R BT.601 luma, the weights PIL's convert('L') and torchvision's Grayscale use. */
export const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * Gray <-> RGB, so a model trained on one can score the other (Fashion-MNIST vs CIFAR-10, say).
 * Gray -> RGB copies the plane three times; RGB -> gray takes BT.601 luma (uint8 input is rounded).
 */
export function toChannels(set: ImageSet, channels: 1 | 3): ImageSet {
  const [n, c, h, w] = set.shape;
  if (c === channels) return set;
  const plane = h * w;
  const src = set.images;
  const isU8 = src instanceof Uint8Array;
  if (c === 1 && channels === 3) {
    const out = isU8 ? new Uint8Array(n * 3 * plane) : new Float32Array(n * 3 * plane);
    for (let i = 0; i < n; i++) {
      const s = src.subarray(i * plane, (i + 1) * plane);
      for (let k = 0; k < 3; k++) out.set(s, (i * 3 + k) * plane);
    }
    return { ...set, images: out, shape: [n, 3, h, w] };
  }
  if (c === 3 && channels === 1) {
    const out = isU8 ? new Uint8Array(n * plane) : new Float32Array(n * plane);
    const [wr, wg, wb] = LUMA;
    for (let i = 0; i < n; i++) {
      const b = i * 3 * plane;
      for (let p = 0; p < plane; p++) {
        const v = wr * src[b + p]! + wg * src[b + plane + p]! + wb * src[b + 2 * plane + p]!;
        out[i * plane + p] = isU8 ? Math.round(v) : v;
      }
    }
    return { ...set, images: out, shape: [n, 1, h, w] };
  }
  throw new OodgenError(`${set.name}: cannot convert ${c} channels to ${channels} (only 1 <-> 3 is supported)`);
}

/**
 * Uniform dequantization (the one formula of oodgen; Theis, van den Oord & Bethge 2016, section 3.1), in place:
 *   x' = (k + u) / 256,  k = x * 255 the 8-bit level (rounded: for data read as k/255 this is exact),  u ~ U[0, 1).
 * x' is uniform over [k/256, (k+1)/256): the discrete data becomes a continuous density on [0,1) whose
 * log-likelihood, minus D ln 256, is the log-probability of the 8-bit image (scores/bpd.ts). This host version
 * is the formula's reference on plain arrays; every batch oodgen dequantizes (training, validation, the batch
 * iterators) draws its noise from an engine Generator through data/batches.ts dequantizeTensor instead, so there
 * is one noise source, whose state a run saves.
 */
export function dequantize(x: Float32Array, rng: Rng): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = (Math.round(x[i]! * 255) + rng.nextU32() / 4294967296) / 256;
  return x;
}

/** A seeded split of 0..n-1 into train and validation indices (each sorted, so reads stay in file order). */
export function trainValSplit(n: number, valFraction: number, seed: number): { train: Int32Array; val: Int32Array } {
  if (!(valFraction >= 0 && valFraction < 1)) throw new OodgenError(`validation fraction must be in [0, 1), got ${valFraction}`);
  const p = permutation(n, new Rng(seed));
  const nVal = Math.round(n * valFraction);
  return { val: p.slice(0, nVal).sort(), train: p.slice(nVal).sort() };
}

/** The images (and labels) at `indices`, copied. */
export function subset(set: ImageSet, indices: Int32Array | number[], name = set.name): ImageSet {
  const [, c, h, w] = set.shape;
  const per = c * h * w;
  const out = set.images instanceof Uint8Array ? new Uint8Array(indices.length * per) : new Float32Array(indices.length * per);
  const labels = set.labels ? new Int32Array(indices.length) : undefined;
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i]!;
    out.set(set.images.subarray(k * per, (k + 1) * per), i * per);
    if (labels) labels[i] = set.labels![k]!;
  }
  const r: ImageSet = { ...set, images: out, shape: [indices.length, c, h, w], name };
  if (labels) r.labels = labels; else delete r.labels;
  return r;
}

/**
 * `limit` evenly spaced indices out of n. Evenly spaced rather than the first `limit`, because class-sorted
 * sources (a `class/*.png` tree) would otherwise give a single class.
 */
export function strideIndices(n: number, limit: number): Int32Array {
  const m = Math.min(n, limit);
  const out = new Int32Array(m);
  for (let i = 0; i < m; i++) out[i] = Math.floor((i * n) / m);
  return out;
}

export function valueRange(x: Uint8Array | Float32Array): { min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}
