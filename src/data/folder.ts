/**
 * Image folders: CelebA's img_align_celeba, exported LSUN, or any `class/*.png|jpg` tree. Decoded with sharp.
 *
 * With a target size, each image is resized so its shorter side equals the size and center-cropped (sharp's
 * `fit: cover`), in the decoder, so a 178x218 CelebA face never exists at full size as a float array. Without a
 * size, every image must have the size of the first one.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { OodgenError } from '../errors.js';
import { describeFsError } from './files.js';
import { progress } from './progress.js';
import type { ImageSet } from './types.js';

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.gif', '.avif']);

export interface FolderListing {
  root: string;
  files: string[];
  /** Class index per file when every image sits in a first-level subfolder; class names sorted. */
  labels?: Int32Array;
  classes?: string[];
}

function ext(name: string): string {
  const i = name.lastIndexOf('.');
  return i < 0 ? '' : name.slice(i).toLowerCase();
}

export function assertFolder(dir: string, what: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    throw new OodgenError(`${what} ${dir}: ${describeFsError(e)}`);
  }
  if (!st.isDirectory()) throw new OodgenError(`${what} ${dir}: not a folder`);
}

/** Lists images under `dir` (recursively, sorted so the order, and hence seeded splits, are stable). */
export function listImageFolder(dir: string): FolderListing {
  assertFolder(dir, 'image folder');
  const files: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (e) {
      throw new OodgenError(`image folder ${d}: cannot list (${describeFsError(e)})`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (IMAGE_EXTENSIONS.has(ext(e.name))) files.push(p);
    }
  };
  walk(dir);
  if (files.length === 0) throw new OodgenError(`image folder ${dir}: no images found (looked for ${[...IMAGE_EXTENSIONS].join(' ')})`);
  const rel = files.map((f) => relative(dir, f).split(sep));
  if (rel.every((r) => r.length === 2)) {
    const classes = [...new Set(rel.map((r) => r[0]!))].sort();
    const index = new Map(classes.map((c, i) => [c, i]));
    return { root: dir, files, classes, labels: Int32Array.from(rel.map((r) => index.get(r[0]!)!)) };
  }
  return { root: dir, files };
}

export interface DecodeOptions {
  /** Resize shorter side to `size` and center-crop to size x size. */
  size?: number;
  name: string;
  source?: string;
}

interface Decoded { data: Buffer; width: number; height: number; channels: number }

async function decodeOne(file: string, size: number | undefined): Promise<Decoded> {
  const run = async (): Promise<Decoded> => {
    // failOn 'warning' (sharp's default is the same) makes truncated JPEGs and PNGs errors rather than gray tails.
    const img = sharp(file, { failOn: 'warning' });
    const meta = await img.metadata();
    // sharp hands back sRGB unless told otherwise; keep gray files gray (MNIST-like PNG trees stay 1 channel).
    const gray = meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels ?? 3) <= 2;
    let p = img.rotate().removeAlpha().toColourspace(gray ? 'b-w' : 'srgb');
    if (size !== undefined) p = p.resize(size, size, { fit: 'cover', position: 'centre', kernel: 'lanczos3' });
    const { data, info } = await p.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 && info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data, width: info.width, height: info.height, channels: info.channels };
  };
  try {
    return await run();
  } catch (e) {
    throw new OodgenError(`image ${file}: cannot decode (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Decodes `files` into one uint8 NCHW set. Grayscale images in a colour folder are expanded to RGB. */
export async function decodeImages(files: string[], opts: DecodeOptions, labels?: Int32Array): Promise<ImageSet> {
  if (files.length === 0) throw new OodgenError(`${opts.source ?? opts.name}: no images to decode`);
  const decoded: Decoded[] = new Array(files.length);
  const bar = progress(`decoding ${opts.name}`, files.length, { minTotal: 2000, clear: true });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      decoded[i] = await decodeOne(files[i]!, opts.size);
      bar.tick();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(files.length, Math.max(4, availableParallelism())) }, worker));
  } finally {
    bar.stop();
  }
  const first = decoded[0]!;
  const { width: w, height: h } = first;
  for (let i = 1; i < decoded.length; i++) {
    const d = decoded[i]!;
    if (d.width !== w || d.height !== h) {
      throw new OodgenError(`image ${files[i]}: odd-sized image, ${d.width}x${d.height} where ${files[0]} is ${w}x${h}; give a target size to resize them all`);
    }
  }
  const c = decoded.some((d) => d.channels === 3) ? 3 : 1;
  const plane = h * w;
  const images = new Uint8Array(files.length * c * plane);
  for (let i = 0; i < decoded.length; i++) {
    const d = decoded[i]!;
    const base = i * c * plane;
    // sharp hands back interleaved HWC; the engine wants planar CHW.
    if (d.channels === c) {
      for (let p = 0; p < plane; p++) for (let ch = 0; ch < c; ch++) images[base + ch * plane + p] = d.data[p * c + ch]!;
    } else {
      for (let p = 0; p < plane; p++) {
        const v = d.data[p]!;
        images[base + p] = v;
        images[base + plane + p] = v;
        images[base + 2 * plane + p] = v;
      }
    }
  }
  const set: ImageSet = { images, shape: [files.length, c, h, w], name: opts.name, source: opts.source ?? files[0]! };
  if (labels) set.labels = labels;
  return set;
}

/** Image metadata (format, size, channels) from the header only; no pixel decoding. */
export async function probeImage(file: string): Promise<{ format: string; width: number; height: number; channels: number }> {
  try {
    const m = await sharp(file).metadata();
    if (!m.width || !m.height) throw new Error('no dimensions in header');
    return { format: m.format ?? '?', width: m.width, height: m.height, channels: m.channels ?? 0 };
  } catch (e) {
    throw new OodgenError(`image ${file}: cannot read (${(e as Error).message.split('\n')[0]})`);
  }
}
