// Input complexity (Serra, Alvarez, Gomez, Slizovskaia, Nunez & Luque, ICLR 2020, "Input complexity and
// out-of-distribution detection with likelihood-based generative models", eq. 2):
//
//   S(x) = -log2 p(x) / D  -  L(x) / D          (bits per dimension; D = C * H * W)
//
// where L(x) is the length in bits of the 8-bit image under a lossless compressor, a stand-in for its Kolmogorov
// complexity: a simple image (a constant, a digit on black) is both likely under any model and short to compress,
// so subtracting L removes the complexity bias that makes likelihoods fail. Higher S = more OoD.
//
// Units: both terms are bits per dimension here. -log2 p(x) / D is the model's bits/dim of the 8-bit image
// (bpd.ts: the IWAE bound on log P(x8), with a Gaussian decoder's density integrated over each level's bin;
// decoders without a probability of the 8-bit image, Bernoulli with soft targets, are refused); for a flow (Glow,
// the paper's model) its exact density minus D log 256, the uniform-dequantization bound (fitted.ts logLikColumn);
// L(x) = 8 * (bytes of the compressed file), headers included, as in the paper (the length of the whole encoded
// file). The paper's reference code subtracts bits/dim of the compressor from the model's NLL in nats/dim, i.e. it
// computes -ln p(x)/D - L(x)/D; that mixes units (1 nat = 1.443 bits) and changes the weight of the two terms.
// oodgen keeps both in bits, which is eq. 2 as written.
//
// Compressors (sharp / libvips): 'png' at maximum zlib compression (level 9, adaptive row filtering) and 'webp'
// lossless (effort 6, the slowest and smallest). Both are lossless, so the decoded file equals the input.
import sharp from 'sharp';
import { OodgenError } from '../errors.js';
import { bitsPerDim } from './bpd.js';
import type { Tensor } from '../engine/index.js';
import type { GenerativeModel } from '../models/types.js';
import type { Detector, DetectorSpec, ScoreBatch } from './types.js';
import { Noise } from './latent.js';
import { intOption, likelihoodEstimator, likelihoodModel, logLikColumn } from './fitted.js';
import { imageProbabilityProblem } from '../models/image-probability.js';
import { compressedLengthsSync } from './compress-sync.js';

export const COMPRESSORS = ['png', 'webp'] as const;
export type Compressor = (typeof COMPRESSORS)[number];

export function parseCompressor(s: string): Compressor {
  if ((COMPRESSORS as readonly string[]).includes(s)) return s as Compressor;
  throw new OodgenError(`--compressor must be one of ${COMPRESSORS.join(', ')}, got '${s}'`);
}

/** The 8-bit levels of one image as interleaved HWC bytes (what sharp's raw input takes), from NCHW values. */
function hwcBytes(images: Float32Array | Uint8Array, i: number, c: number, h: number, w: number): Buffer {
  const out = Buffer.alloc(h * w * c);
  const off = i * c * h * w;
  const u8 = images instanceof Uint8Array;
  for (let ch = 0; ch < c; ch++) {
    for (let p = 0; p < h * w; p++) {
      const v = images[off + ch * h * w + p]!;
      out[p * c + ch] = u8 ? v : Math.min(255, Math.max(0, Math.round(v * 255)));
    }
  }
  return out;
}

/** The compressed file of one HWC 8-bit image. */
export async function compressImage(raw: Buffer, c: number, h: number, w: number, compressor: Compressor): Promise<Buffer> {
  if (c !== 1 && c !== 3) throw new OodgenError(`input-complexity: images must have 1 or 3 channels, got ${c}`);
  const img = sharp(raw, { raw: { width: w, height: h, channels: c } });
  return compressor === 'png'
    ? img.png({ compressionLevel: 9, adaptiveFiltering: true, palette: false }).toBuffer()
    : img.webp({ lossless: true, effort: 6 }).toBuffer();
}

/** L(x) in bits for each image of an NCHW batch (values in [0, 1] or uint8 levels). */
export async function compressedBits(
  images: Float32Array | Uint8Array, shape: readonly [number, number, number, number], compressor: Compressor,
): Promise<Float64Array> {
  const [n, c, h, w] = shape;
  if (images.length !== n * c * h * w) throw new OodgenError(`input-complexity: ${images.length} values do not match shape ${shape.join('x')}`);
  const out = new Float64Array(n);
  // A few images at a time: libvips runs them on its own threads.
  const par = 8;
  for (let s = 0; s < n; s += par) {
    const idx = Array.from({ length: Math.min(par, n - s) }, (_, k) => s + k);
    const lens = await Promise.all(idx.map((i) => compressImage(hwcBytes(images, i, c, h, w), c, h, w, compressor).then((b) => b.length)));
    idx.forEach((i, k) => { out[i] = 8 * lens[k]!; });
  }
  return out;
}

/**
 * S(x) = bpd(x) - L(x)/D per image, from log-probabilities of the 8-bit images in nats
 * and compressed lengths in bits. Returns the score and the two terms in bits/dim.
 */
export function inputComplexityScore(
  logLikelihood: ArrayLike<number>, bits: ArrayLike<number>, dims: number,
): { score: Float32Array; bpd: Float32Array; complexity: Float32Array } {
  if (logLikelihood.length !== bits.length) throw new OodgenError(`input-complexity: ${logLikelihood.length} log-likelihoods but ${bits.length} compressed lengths`);
  const n = bits.length;
  const score = new Float32Array(n), bpd = new Float32Array(n), complexity = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    bpd[i] = bitsPerDim(logLikelihood[i]!, dims);
    complexity[i] = bits[i]! / dims;
    score[i] = bpd[i]! - complexity[i]!;
  }
  return { score, bpd, complexity };
}

// ---- Detector (registered in builtin.ts) ----

/** L(x) in bits of each image of a batch tensor, synchronously (a sharp worker thread, compress-sync.ts). */
export function compressedBitsSync(x: Tensor, compressor: Compressor): Float64Array {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (c !== 1 && c !== 3) throw new OodgenError(`input-complexity: images must have 1 or 3 channels, got ${c}`);
  const v = x.device === 'cpu' ? x.toFloat32Array() : x.to('cpu').toFloat32Array();
  const raws = Array.from({ length: n }, (_, i) => new Uint8Array(hwcBytes(v, i, c, h, w)));
  return Float64Array.from(compressedLengthsSync(raws, { width: w, height: h, channels: c }, compressor), (b) => 8 * b);
}

export class InputComplexityDetector implements Detector {
  readonly name = 'input-complexity';
  readonly description: string;
  readonly compressor: Compressor;
  readonly k: number;
  readonly seed: number;
  private readonly noise: Noise;
  constructor(readonly model: GenerativeModel, o: Record<string, unknown> = {}) {
    // A flow's exact density gives bits/dim through dequantization (logLikColumn); a VAE needs a decoder with a
    // probability of the 8-bit image.
    const problem = likelihoodEstimator(model) === 'exact' ? null : imageProbabilityProblem(model);
    if (problem) throw new OodgenError(`input-complexity needs bits/dim of the 8-bit image: ${problem}`);
    this.compressor = parseCompressor(String(o.compressor ?? 'png'));
    this.k = intOption(o.k, 50, 'input-complexity: K');
    this.seed = intOption(o.seed, 0, 'input-complexity: seed', 0);
    this.noise = new Noise(this.seed);
    this.description = `S(x) = -log2 p(x)/D - L(x)/D bits/dim, L = ${this.compressor === 'png' ? 'PNG level 9' : 'lossless WebP'} length, ${likelihoodEstimator(model) === 'exact' ? 'exact log p' : `IWAE K = ${this.k}`} (Serra et al. 2020)`;
  }
  evaluate(x: Tensor): ScoreBatch {
    const loglik = logLikColumn(this.model, x, this.k, this.noise, { image: true });
    const bits = compressedBitsSync(x, this.compressor);
    const [, c, h, w] = x.shape as [number, number, number, number];
    const r = inputComplexityScore(loglik, bits, c * h * w);
    return { score: r.score, columns: { ic: r.score, bpd: r.bpd, complexity: r.complexity, loglik } };
  }
  score(x: Tensor): Float32Array { return this.evaluate(x).score; }
  settings(): Record<string, unknown> { return { estimator: likelihoodEstimator(this.model), compressor: this.compressor, k: this.k, seed: this.seed, units: 'bits per dimension (both terms)' }; }
}

export const inputComplexitySpec: DetectorSpec = {
  name: 'input-complexity',
  title: 'input complexity S(x) = -log2 p(x)/D - L(x)/D, L the lossless compressed length (PNG-9 or WebP), bits/dim',
  reference: 'Serra, Alvarez, Gomez, Slizovskaia, Nunez & Luque, "Input complexity and out-of-distribution detection with likelihood-based generative models", ICLR 2020',
  granularity: 'sample',
  needs: ['likelihood'],
  options: { compressor: 'png (default, level 9) | webp (lossless)', k: 'IWAE importance samples K (default 50; unused with an exact likelihood)', seed: 'noise seed' },
  columns: { ic: 'bits per dimension', bpd: 'model bits per dimension', complexity: 'compressed bits per dimension', loglik: 'nats per image, of the 8-bit image (exact with dequantization, or IWAE)' },
  axis: 'S(x), bits per dimension',
  units: 'bits per dimension',
  create: ({ model, options }) => new InputComplexityDetector(likelihoodModel(model, "score 'input-complexity'"), options),
};
