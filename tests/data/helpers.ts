// Writers for small test files in each format the dataset layer reads, plus corruption helpers.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { gzipSync, deflateSync } from 'node:zlib';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { OodgenError } from '../../src/errors.js';
import { tempDir as sharedTempDir } from '../helpers/tmp.js';

/** A temp folder removed after test `t` (tests/helpers/tmp.ts). */
export const tempDir = (t: { after: (fn: () => void) => void }): string => sharedTempDir('data', t);

export function put(path: string, data: Uint8Array | string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return path;
}

/** Deterministic pixel pattern so readers' reordering can be checked exactly. */
export function pattern(n: number, per: number, seed = 0): Uint8Array {
  const a = new Uint8Array(n * per);
  for (let i = 0; i < a.length; i++) a[i] = (i * 31 + seed * 7 + (i >> 5)) & 0xff;
  return a;
}

export function idxBytes(dims: number[], data: Uint8Array, type = 0x08): Uint8Array {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = type;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, data]);
}

export function writeIdxPair(dir: string, prefix: string, n: number, h = 28, w = 28, gz = true): { images: Uint8Array; labels: Uint8Array; imagesPath: string; labelsPath: string } {
  const images = pattern(n, h * w, n);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const z = (b: Uint8Array) => (gz ? gzipSync(b) : b);
  const ext = gz ? '.gz' : '';
  const imagesPath = put(join(dir, `${prefix}-images-idx3-ubyte${ext}`), z(idxBytes([n, h, w], images)));
  const labelsPath = put(join(dir, `${prefix}-labels-idx1-ubyte${ext}`), z(idxBytes([n], labels)));
  return { images, labels, imagesPath, labelsPath };
}

export function cifarBytes(n: number, seed = 0): { bytes: Uint8Array; images: Uint8Array; labels: number[] } {
  const images = pattern(n, 3072, seed);
  const labels = Array.from({ length: n }, (_, i) => (i + seed) % 10);
  const bytes = new Uint8Array(n * 3073);
  for (let i = 0; i < n; i++) {
    bytes[i * 3073] = labels[i]!;
    bytes.set(images.subarray(i * 3072, (i + 1) * 3072), i * 3073 + 1);
  }
  return { bytes, images, labels };
}

/** CIFAR-100 binary records: coarse label byte, fine label byte, 3072 pixel bytes (CHW). */
export function cifar100Bytes(n: number, seed = 0): { bytes: Uint8Array; images: Uint8Array; fine: number[]; coarse: number[] } {
  const images = pattern(n, 3072, seed);
  const fine = Array.from({ length: n }, (_, i) => (i * 37 + seed) % 100);
  const coarse = Array.from({ length: n }, (_, i) => (i * 7 + seed) % 20);
  const bytes = new Uint8Array(n * 3074);
  for (let i = 0; i < n; i++) {
    bytes[i * 3074] = coarse[i]!;
    bytes[i * 3074 + 1] = fine[i]!;
    bytes.set(images.subarray(i * 3072, (i + 1) * 3072), i * 3074 + 2);
  }
  return { bytes, images, fine, coarse };
}

// ---- MATLAB level 5 ----

const CLASS = { double: 6, uint8: 9 } as const;

function pad8(b: Buffer): Buffer {
  const p = (8 - (b.length % 8)) % 8;
  return p ? Buffer.concat([b, Buffer.alloc(p)]) : b;
}
function element(type: number, data: Buffer): Buffer {
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(type, 0);
  tag.writeUInt32LE(data.length, 4);
  return Buffer.concat([tag, pad8(data)]);
}
function smallElement(type: number, data: Buffer): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(((data.length << 16) | type) >>> 0, 0);
  data.copy(b, 4);
  return b;
}

export interface MatVar { name: string; cls: 'uint8' | 'double'; dims: number[]; data: Uint8Array | Float64Array }

export function matMatrix(v: MatVar): Buffer {
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(CLASS[v.cls], 0);
  const dims = Buffer.alloc(4 * v.dims.length);
  v.dims.forEach((d, i) => dims.writeInt32LE(d, 4 * i));
  const nm = Buffer.from(v.name, 'latin1');
  const name = nm.length <= 4 ? smallElement(1, nm) : element(1, nm);
  const raw = v.cls === 'uint8' ? Buffer.from(v.data as Uint8Array) : Buffer.from((v.data as Float64Array).buffer.slice(0));
  const body = Buffer.concat([element(6, flags), element(5, dims), name, element(v.cls === 'uint8' ? 2 : 9, raw)]);
  return element(14, body);
}

export function matFile(vars: MatVar[], compressed: boolean): Buffer {
  const header = Buffer.alloc(128, 0x20);
  header.write('MATLAB 5.0 MAT-file, Platform: test, Created on: today', 0, 'latin1');
  header.fill(0, 116, 124);
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  const parts = vars.map((v) => {
    const m = matMatrix(v);
    if (!compressed) return m;
    const z = deflateSync(m);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    return Buffer.concat([tag, z]);
  });
  return Buffer.concat([header, ...parts]);
}

/** An SVHN-like file: X (h,w,3,n) column-major from an NCHW array, y (n,1) double with 10 for digit 0. */
export function svhnFile(n: number, compressed: boolean, h = 32, w = 32): { bytes: Buffer; nchw: Uint8Array; digits: number[] } {
  const nchw = pattern(n, 3 * h * w, 3);
  const X = new Uint8Array(nchw.length);
  for (let k = 0; k < n; k++) for (let c = 0; c < 3; c++) for (let r = 0; r < h; r++) for (let col = 0; col < w; col++) {
    X[r + h * (col + w * (c + 3 * k))] = nchw[((k * 3 + c) * h + r) * w + col]!;
  }
  const digits = Array.from({ length: n }, (_, i) => i % 10);
  const y = Float64Array.from(digits, (d) => (d === 0 ? 10 : d));
  return { bytes: matFile([{ name: 'X', cls: 'uint8', dims: [h, w, 3, n], data: X }, { name: 'y', cls: 'double', dims: [n, 1], data: y }], compressed), nchw, digits };
}

// ---- tar ----

export function tarBytes(files: { name: string; data: Uint8Array }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const h = Buffer.alloc(512);
    h.write(f.name, 0, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(f.data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    parts.push(h, Buffer.from(f.data), Buffer.alloc((512 - (f.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

// ---- images ----

export async function writePng(path: string, w: number, h: number, channels: 1 | 3, fill: (x: number, y: number, c: number) => number): Promise<Uint8Array> {
  const d = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < channels; c++) d[(y * w + x) * channels + c] = fill(x, y, c);
  mkdirSync(dirname(path), { recursive: true });
  const img = sharp(d, { raw: { width: w, height: h, channels } });
  await (channels === 1 ? img.toColourspace('b-w') : img).png().toFile(path);
  return d;
}

/** Asserts `fn` rejects/throws an OodgenError whose message names `file` and matches `what`. */
export async function assertBadFile(fn: () => unknown, file: string, what: RegExp): Promise<void> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected an error for ${file}`);
  assert.ok(err instanceof OodgenError, `expected OodgenError, got ${(err as Error)?.stack ?? err}`);
  assert.ok(err.message.includes(file), `message should name ${file}: ${err.message}`);
  assert.match(err.message, what);
}
