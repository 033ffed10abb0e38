// Request images -> model input. The header is read first (sharp's metadata parses only the PNG IHDR / JPEG SOF),
// so an image declaring 100k x 100k pixels is refused before a single pixel is decoded; decoding then goes through
// the data layer's own decoder (src/data/folder.ts: EXIF rotation, alpha dropped, gray kept gray, shorter side
// resized and center-cropped in the decoder) and channel conversion (src/data/preprocess.ts), exactly as a folder of
// images is prepared for the model.
import sharp from 'sharp';
import { decodeImage } from '../data/folder.js';
import { toChannels, toFloat } from '../data/preprocess.js';
import type { ImageSet } from '../data/types.js';
import { HttpError, badRequest } from './errors.js';
import { decodePlainPng } from './png.js';

export interface ImageLimits {
  /** Largest width or height accepted (header), default 4096. */
  maxSide: number;
  /** Largest width * height accepted (header), default 16,777,216 (4096^2). */
  maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxSide: 4096, maxPixels: 4096 * 4096 };

export type ImageFormat = 'png' | 'jpeg';

/** The model's input geometry. */
export interface InputShape { channels: number; size: number }

/** Format and size from the header only; throws a 4xx HttpError naming `label` when the bytes are not acceptable. */
export async function inspectImage(buf: Buffer, label: string, limits: ImageLimits, expect?: ImageFormat): Promise<{ format: ImageFormat; width: number; height: number }> {
  if (buf.length === 0) throw badRequest('empty_image', `${label}: empty (0 bytes)`);
  let meta: sharp.Metadata;
  try {
    // No pixel limit here: metadata() reads the header only, and the limits below say what was declared.
    meta = await sharp(buf, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw badRequest('not_an_image', `${label}: not a PNG or JPEG image (${(e as Error).message.split('\n')[0]})`);
  }
  const format = meta.format;
  if (format !== 'png' && format !== 'jpeg') throw new HttpError(415, 'unsupported_image_format', `${label}: ${format ?? 'unknown'} image; the gate takes PNG or JPEG`);
  if (expect !== undefined && format !== expect) throw badRequest('content_type_mismatch', `${label}: the content type says image/${expect} but the body is a ${format} image`);
  const { width, height } = meta;
  if (!width || !height) throw badRequest('not_an_image', `${label}: no dimensions in the ${format} header`);
  if (width > limits.maxSide || height > limits.maxSide || width * height > limits.maxPixels) {
    throw new HttpError(413, 'image_too_large', `${label}: the ${format} header declares ${width}x${height} pixels; the limit is ${limits.maxSide} per side and ${limits.maxPixels} pixels`);
  }
  return { format, width, height };
}

/**
 * One image's bytes as the model's input: float32 CHW in [0, 1] at shape.size x shape.size with shape.channels.
 * Header limits are checked before decoding.
 */
export async function imageToInput(buf: Buffer, label: string, shape: InputShape, limits: ImageLimits, expect?: ImageFormat): Promise<Float32Array> {
  // A plain PNG at exactly the model's size (its IHDR, read before inflating, says so) skips libvips entirely;
  // every other image has its header checked by sharp's metadata before anything is decoded.
  let d: { data: Uint8Array; width: number; height: number; channels: number } | null = expect !== 'jpeg' ? decodePlainPng(buf, shape.size) : null;
  if (!d) {
    await inspectImage(buf, label, limits, expect);
    try {
      d = await decodeImage(buf, shape.size, label);
    } catch (e) {
      throw badRequest('undecodable_image', (e as Error).message);
    }
  }
  const { width: w, height: h, channels: c } = d;
  const plane = w * h;
  // sharp hands back interleaved HWC; the engine wants planar CHW (as decodeImages does for folders).
  const chw = new Uint8Array(c * plane);
  for (let p = 0; p < plane; p++) for (let ch = 0; ch < c; ch++) chw[ch * plane + p] = d.data[p * c + ch]!;
  let set: ImageSet = { images: chw, shape: [1, c, h, w], name: label, source: 'request' };
  set = toChannels(set, shape.channels as 1 | 3);
  return toFloat(set).images as Float32Array;
}

/** A pixel array from a JSON body: C*H*W finite numbers in [0, 1], CHW order at the model's size. */
export function pixelsToInput(v: unknown, label: string, shape: InputShape): Float32Array {
  const n = shape.channels * shape.size * shape.size;
  if (!Array.isArray(v)) throw badRequest('bad_pixels', `${label}: expected an array of ${n} numbers, got ${v === null ? 'null' : typeof v}`);
  if (v.length !== n) throw badRequest('bad_pixels', `${label}: ${v.length} values; the model takes ${shape.channels}x${shape.size}x${shape.size} = ${n} (CHW order, values in [0, 1])`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw badRequest('bad_pixels', `${label}: value ${i} is ${JSON.stringify(x) ?? String(x)}, not a finite number`);
    if (x < 0 || x > 1) throw badRequest('bad_pixels', `${label}: value ${i} is ${x}, outside [0, 1]`);
    out[i] = x;
  }
  return out;
}
