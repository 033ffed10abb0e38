/**
 * IDX files (MNIST, Fashion-MNIST, KMNIST), gzip-compressed or raw.
 *
 * Layout: two zero bytes, a type byte, a rank byte, then `rank` big-endian u32 dimensions, then the data in
 * row-major order. Image files are rank 3 (N, H, W) and label files rank 1 (N), both uint8.
 */
import { OodgenError } from '../errors.js';
import { maybeGunzip, readBytes, readHead } from './files.js';
import type { ImageSet } from './types.js';

const TYPE_NAMES: Record<number, string> = { 0x08: 'uint8', 0x09: 'int8', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64' };
const TYPE_SIZES: Record<number, number> = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 };

export interface IdxHeader {
  type: string;
  dims: number[];
  headerBytes: number;
}

function parseHeader(buf: Uint8Array, path: string): IdxHeader & { typeCode: number } {
  if (buf.length < 4) throw new OodgenError(`IDX file ${path}: only ${buf.length} bytes, too short for an IDX header`);
  if (buf[0] !== 0 || buf[1] !== 0 || TYPE_NAMES[buf[2]!] === undefined || buf[3] === 0 || buf[3]! > 4) {
    const magic = [...buf.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new OodgenError(`IDX file ${path}: wrong magic number ${magic} (expected 00 00 08 01 for labels or 00 00 08 03 for images); not an IDX file`);
  }
  const rank = buf[3]!;
  const headerBytes = 4 + 4 * rank;
  if (buf.length < headerBytes) throw new OodgenError(`IDX file ${path}: truncated inside the header (${buf.length} of ${headerBytes} bytes)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(dv.getUint32(4 + 4 * i, false));
  return { type: TYPE_NAMES[buf[2]!]!, typeCode: buf[2]!, dims, headerBytes };
}

/** Header only (dimensions), reading just the start of the file. */
export function readIdxHeader(path: string): IdxHeader {
  const { typeCode: _t, ...h } = parseHeader(readHead(path, 4 + 16, 'IDX file'), path);
  return h;
}

/** Reads a uint8 IDX file completely and checks that its size matches its header exactly. */
export function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  const buf = maybeGunzip(readBytes(path, 'IDX file'), path, 'IDX file');
  const h = parseHeader(buf, path);
  if (h.typeCode !== 0x08) throw new OodgenError(`IDX file ${path}: element type ${h.type}; only uint8 image and label files are supported`);
  const want = h.dims.reduce((a, b) => a * b, 1) * TYPE_SIZES[h.typeCode]!;
  const have = buf.length - h.headerBytes;
  if (have < want) {
    throw new OodgenError(`IDX file ${path}: truncated: header says ${h.dims.join('x')} (${want} data bytes) but only ${have} bytes follow`);
  }
  if (have > want) {
    throw new OodgenError(`IDX file ${path}: ${have - want} unexpected bytes after the ${h.dims.join('x')} data; file is corrupt or the header is wrong`);
  }
  return { dims: h.dims, data: new Uint8Array(buf.buffer, buf.byteOffset + h.headerBytes, want) };
}

/** An image file plus (optionally) its label file. */
export function loadIdxPair(imagesPath: string, labelsPath: string | undefined, name: string): ImageSet {
  const img = readIdx(imagesPath);
  if (img.dims.length !== 3) {
    throw new OodgenError(`IDX file ${imagesPath}: rank ${img.dims.length} (${img.dims.join('x')}); an image file must be N x H x W`);
  }
  const [n, h, w] = img.dims as [number, number, number];
  if (n === 0 || h === 0 || w === 0) throw new OodgenError(`IDX file ${imagesPath}: holds no images (${img.dims.join('x')})`);
  const set: ImageSet = { images: img.data, shape: [n, 1, h, w], name, source: imagesPath };
  if (labelsPath !== undefined) {
    const lab = readIdx(labelsPath);
    if (lab.dims.length !== 1) {
      throw new OodgenError(`IDX file ${labelsPath}: rank ${lab.dims.length} (${lab.dims.join('x')}); a label file must be rank 1`);
    }
    if (lab.dims[0] !== n) {
      throw new OodgenError(`IDX count mismatch: ${imagesPath} has ${n} images but ${labelsPath} has ${lab.dims[0]} labels`);
    }
    set.labels = Int32Array.from(lab.data);
  }
  return set;
}
