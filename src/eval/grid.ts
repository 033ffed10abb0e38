/**
 * Image grids as PNG (dataset previews, samples, reconstructions). Written with sharp, atomically (temp file then
 * rename) so a crash never leaves a half-written PNG where a report expects one.
 */
import { randomBytes } from 'node:crypto';
import { rename, unlink, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';
import { OodgenError } from '../errors.js';

export interface GridOptions {
  /** Images per row; default ceil(sqrt(N)). */
  nrow?: number;
  /** Pixels between images (and around the border); default 2. */
  padding?: number;
  /** Integer upscale factor (nearest neighbour) so 28x28 digits are visible; default 1. */
  scale?: number;
  /** Gray level of the padding, 0..255; default 255. */
  background?: number;
}

/**
 * Writes images (NCHW; float32 in [0,1], clamped, or uint8) as one PNG grid. 1-channel sets give a grayscale
 * PNG, 3-channel an RGB one.
 */
export async function writeImageGrid(
  path: string,
  images: Float32Array | Uint8Array,
  shape: [number, number, number, number],
  opts: GridOptions = {},
): Promise<void> {
  const { raw, W, H, c } = layoutGrid(path, images, shape, opts);
  await mkdir(dirname(path), { recursive: true }).catch(() => undefined);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await encodePng(raw, W, H, c).toFile(tmp);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new OodgenError(`image grid ${path}: cannot write (${(e as Error).message})`);
  }
}

/** The same grid as PNG bytes in memory (for self-contained HTML reports: data URIs). */
export async function imageGridPng(
  images: Float32Array | Uint8Array,
  shape: [number, number, number, number],
  opts: GridOptions = {},
): Promise<Buffer> {
  const { raw, W, H, c } = layoutGrid('(in memory)', images, shape, opts);
  return encodePng(raw, W, H, c).toBuffer();
}

function encodePng(raw: Buffer, W: number, H: number, c: number) {
  const img = sharp(raw, { raw: { width: W, height: H, channels: c as 1 | 3 } });
  // Without b-w sharp would write a 1-channel grid as RGB.
  return (c === 1 ? img.toColourspace('b-w') : img).png();
}

function layoutGrid(
  path: string,
  images: Float32Array | Uint8Array,
  shape: [number, number, number, number],
  opts: GridOptions,
): { raw: Buffer; W: number; H: number; c: number } {
  const [n, c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new OodgenError(`image grid ${path}: ${c} channels; only 1 or 3 can be written`);
  if (n < 1 || h < 1 || w < 1) throw new OodgenError(`image grid ${path}: nothing to draw (shape ${shape.join('x')})`);
  if (images.length !== n * c * h * w) throw new OodgenError(`image grid ${path}: ${images.length} values do not match shape ${shape.join('x')}`);
  const nrow = Math.max(1, Math.min(n, opts.nrow ?? Math.ceil(Math.sqrt(n))));
  const pad = Math.max(0, Math.floor(opts.padding ?? 2));
  const scale = Math.max(1, Math.floor(opts.scale ?? 1));
  const rows = Math.ceil(n / nrow);
  const cw = w * scale, ch = h * scale;
  const W = nrow * cw + (nrow + 1) * pad;
  const H = rows * ch + (rows + 1) * pad;
  if (W * H > 100_000_000) throw new OodgenError(`image grid ${path}: ${W}x${H} pixels is too large; show fewer images or a smaller scale`);
  const out = Buffer.alloc(W * H * c, opts.background ?? 255);
  const isF = images instanceof Float32Array;
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const ox = pad + (i % nrow) * (cw + pad);
    const oy = pad + Math.floor(i / nrow) * (ch + pad);
    for (let y = 0; y < ch; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < cw; x++) {
        const sx = Math.floor(x / scale);
        const d = ((oy + y) * W + ox + x) * c;
        for (let k = 0; k < c; k++) {
          const v = images[(i * c + k) * plane + sy * w + sx]!;
          out[d + k] = isF ? Math.round((v < 0 ? 0 : v > 1 ? 1 : Number.isNaN(v) ? 0 : v) * 255) : v;
        }
      }
    }
  }
  return { raw: out, W, H, c };
}
