// Sharpness of images, so that "VAE samples are blurrier" (Chen 2021, Fig. 3.1) is a measured number.
//
//  gradient:  mean gradient magnitude, mean over images, channels and positions of
//             sqrt((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2)  (forward differences on the (H-1) x (W-1) grid);
//             blur averages neighbours, so it shrinks the differences.
//  hf:        high-frequency energy fraction: of the DFT power of each (mean-removed) channel, the share at radial
//             frequency sqrt(fx^2 + fy^2) > cutoff cycles/pixel (default 1/4, half the Nyquist 1/2), averaged over
//             images and channels; blur is a low-pass filter, so it removes exactly this share.
//
// Both depend on the content, so a sample set is compared with real images of the same data: the ratios
// sample / real are what a blur study reports (1 = as sharp as the data, below 1 = blurrier).
import { OodgenError } from '../errors.js';

export interface SharpnessImages {
  /** NCHW values in [0, 1] (or 0..255 as uint8, scaled by 1/255). */
  images: Float32Array | Uint8Array;
  shape: readonly [number, number, number, number];
}

export interface Sharpness {
  /** Mean gradient magnitude (intensity units of [0, 1] per pixel). */
  gradient: number;
  /** Share of the non-DC spectral power above the cutoff, in [0, 1]. */
  hf: number;
  /** Images measured. */
  n: number;
}

function check(s: SharpnessImages, what: string): void {
  const [n, c, h, w] = s.shape;
  if (![n, c, h, w].every((d) => Number.isInteger(d) && d > 0)) throw new OodgenError(`${what}: bad image shape [${s.shape.join(', ')}]`);
  if (s.images.length !== n * c * h * w) throw new OodgenError(`${what}: ${s.images.length} values for shape [${s.shape.join(', ')}]`);
  if (h < 2 || w < 2) throw new OodgenError(`${what}: sharpness needs images of at least 2x2, got ${h}x${w}`);
}

/** Mean gradient magnitude over every image, channel and position. */
export function meanGradientMagnitude(s: SharpnessImages): number {
  check(s, 'gradient');
  const [n, c, h, w] = s.shape;
  const scale = s.images instanceof Uint8Array ? 1 / 255 : 1;
  const v = s.images;
  let total = 0;
  for (let p = 0; p < n * c; p++) {
    const o = p * h * w;
    for (let i = 0; i < h - 1; i++) {
      for (let j = 0; j < w - 1; j++) {
        const a = v[o + i * w + j]!;
        const dx = (v[o + i * w + j + 1]! - a) * scale, dy = (v[o + (i + 1) * w + j]! - a) * scale;
        total += Math.sqrt(dx * dx + dy * dy);
      }
    }
  }
  return total / (n * c * (h - 1) * (w - 1));
}

/** DFT power |F(u, v)|^2 of one real h x w plane (separable: rows, then columns). */
function power2d(x: Float64Array, h: number, w: number): Float64Array {
  const re = new Float64Array(h * w), im = new Float64Array(h * w);
  // rows: R[i, v] = sum_j x[i, j] e^{-2 pi i v j / w}
  for (let i = 0; i < h; i++) {
    for (let v = 0; v < w; v++) {
      let sr = 0, si = 0;
      for (let j = 0; j < w; j++) {
        const a = (-2 * Math.PI * v * j) / w;
        sr += x[i * w + j]! * Math.cos(a);
        si += x[i * w + j]! * Math.sin(a);
      }
      re[i * w + v] = sr;
      im[i * w + v] = si;
    }
  }
  const out = new Float64Array(h * w);
  // columns: F[u, v] = sum_i R[i, v] e^{-2 pi i u i / h}
  for (let v = 0; v < w; v++) {
    for (let u = 0; u < h; u++) {
      let sr = 0, si = 0;
      for (let i = 0; i < h; i++) {
        const a = (-2 * Math.PI * u * i) / h, cs = Math.cos(a), sn = Math.sin(a);
        sr += re[i * w + v]! * cs - im[i * w + v]! * sn;
        si += re[i * w + v]! * sn + im[i * w + v]! * cs;
      }
      out[u * w + v] = sr * sr + si * si;
    }
  }
  return out;
}

/** Signed frequency of DFT index k of n points, in cycles per pixel (-1/2 .. 1/2). */
const freq = (k: number, n: number): number => (k <= n / 2 ? k : k - n) / n;

/**
 * Share of spectral power above `cutoff` cycles/pixel (default 0.25), per channel plane with its mean removed,
 * averaged over planes; a flat plane (no power) counts 0.
 */
export function highFrequencyEnergy(s: SharpnessImages, cutoff = 0.25): number {
  check(s, 'hf');
  if (!(cutoff > 0 && cutoff < Math.SQRT1_2)) throw new OodgenError(`hf cutoff must be in (0, 0.707) cycles/pixel, got ${cutoff}`);
  const [n, c, h, w] = s.shape;
  const scale = s.images instanceof Uint8Array ? 1 / 255 : 1;
  const high = new Uint8Array(h * w);
  for (let u = 0; u < h; u++) for (let v = 0; v < w; v++) high[u * w + v] = Math.hypot(freq(u, h), freq(v, w)) > cutoff ? 1 : 0;
  let sum = 0;
  const plane = new Float64Array(h * w);
  for (let p = 0; p < n * c; p++) {
    let m = 0;
    for (let k = 0; k < h * w; k++) m += (plane[k] = s.images[p * h * w + k]! * scale);
    m /= h * w;
    for (let k = 0; k < h * w; k++) plane[k]! -= m;
    const pw = power2d(plane, h, w);
    let all = 0, hi = 0;
    for (let k = 0; k < h * w; k++) {
      all += pw[k]!;
      if (high[k]) hi += pw[k]!;
    }
    sum += all > 1e-12 ? hi / all : 0;
  }
  return sum / (n * c);
}

/** Both measures of a set of images. */
export function sharpness(s: SharpnessImages, o: { cutoff?: number } = {}): Sharpness {
  return { gradient: meanGradientMagnitude(s), hf: highFrequencyEnergy(s, o.cutoff), n: s.shape[0] };
}

/** Samples against real images: each measure and its ratio sample / real. */
export function sharpnessRatio(samples: SharpnessImages, real: SharpnessImages, o: { cutoff?: number } = {}): {
  samples: Sharpness; real: Sharpness; gradientRatio: number; hfRatio: number;
} {
  const a = sharpness(samples, o), b = sharpness(real, o);
  return { samples: a, real: b, gradientRatio: a.gradient / b.gradient, hfRatio: a.hf / b.hf };
}
