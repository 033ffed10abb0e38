/**
 * MATLAB level 5 MAT-files (what SVHN's train_32x32.mat / test_32x32.mat are), with or without
 * zlib-compressed elements (miCOMPRESSED, MATLAB's default since v7).
 *
 * No maintained pure-JS reader for this format is among the project's dependencies, and only numeric arrays
 * are needed, so this is a small reader: 128-byte header, then tagged data elements; a tag is (type u32,
 * byte count u32) or, when the upper 16 bits of the first word are non-zero, the "small element" form
 * packing count, type and up to 4 data bytes into 8 bytes. Non-compressed elements are padded to 8 bytes.
 * Arrays are column-major (MATLAB order). v7.3 files are HDF5 and are refused with a clear message.
 */
import { inflateSync } from 'node:zlib';
import { OodgenError } from '../errors.js';
import { readBytes } from './files.js';

const miINT8 = 1, miUINT8 = 2, miINT16 = 3, miUINT16 = 4, miINT32 = 5, miUINT32 = 6, miSINGLE = 7, miDOUBLE = 9,
  miINT64 = 12, miUINT64 = 13, miMATRIX = 14, miCOMPRESSED = 15, miUTF8 = 16;

const CLASS_NAMES: Record<number, string> = {
  1: 'cell', 2: 'struct', 3: 'object', 4: 'char', 5: 'sparse', 6: 'double', 7: 'single', 8: 'int8', 9: 'uint8',
  10: 'int16', 11: 'uint16', 12: 'int32', 13: 'uint32', 14: 'int64', 15: 'uint64',
};
const NUMERIC_CLASSES = new Set([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
const ELEM_SIZE: Record<number, number> = {
  [miINT8]: 1, [miUINT8]: 1, [miINT16]: 2, [miUINT16]: 2, [miINT32]: 4, [miUINT32]: 4, [miSINGLE]: 4, [miDOUBLE]: 8,
  [miINT64]: 8, [miUINT64]: 8, [miUTF8]: 1,
};

export interface MatArray {
  name: string;
  /** MATLAB class: 'double', 'uint8', ... */
  className: string;
  /** MATLAB dimensions (column-major). */
  dims: number[];
  /** Numeric data in column-major order: uint8 data stays a Uint8Array (SVHN's X is 225 MB), the rest becomes Float64Array. Undefined for non-numeric classes. */
  data?: Uint8Array | Float64Array;
  complex: boolean;
}

class Cursor {
  constructor(readonly buf: Uint8Array, readonly dv: DataView, readonly le: boolean, readonly path: string, readonly where: string) {}
  fail(msg: string): never {
    throw new OodgenError(`MAT-file ${this.path}: ${msg}${this.where ? ` (${this.where})` : ''}`);
  }
  u32(off: number): number {
    if (off + 4 > this.buf.length) this.fail(`truncated at byte ${off}`);
    return this.dv.getUint32(off, this.le);
  }
}

interface Tag { type: number; nbytes: number; dataOff: number; next: number }

function readTag(c: Cursor, off: number, pad: boolean): Tag {
  if (off + 8 > c.buf.length) c.fail(`truncated: data element tag at byte ${off} needs 8 bytes, ${c.buf.length - off} left`);
  const w0 = c.u32(off);
  if (w0 >>> 16 !== 0) {
    // Small data element: count in the upper half, type in the lower, data in the next 4 bytes.
    return { type: w0 & 0xffff, nbytes: w0 >>> 16, dataOff: off + 4, next: off + 8 };
  }
  const nbytes = c.u32(off + 4);
  const dataOff = off + 8;
  if (dataOff + nbytes > c.buf.length) {
    c.fail(`truncated: element at byte ${off} (type ${w0}) declares ${nbytes} bytes but only ${c.buf.length - dataOff} remain`);
  }
  // Compressed elements are not padded; everything else is padded to a multiple of 8.
  const next = dataOff + (pad && w0 !== miCOMPRESSED ? Math.ceil(nbytes / 8) * 8 : nbytes);
  return { type: w0, nbytes, dataOff, next: Math.min(next, c.buf.length) };
}

function numericData(c: Cursor, t: Tag, count: number, what: string): Uint8Array | Float64Array {
  const size = ELEM_SIZE[t.type];
  if (size === undefined || t.type === miUTF8) c.fail(`${what}: unsupported storage type ${t.type}`);
  if (t.nbytes !== count * size) c.fail(`${what}: ${t.nbytes} data bytes for ${count} elements of ${size} bytes; array is truncated or corrupt`);
  if (t.type === miUINT8) return c.buf.subarray(t.dataOff, t.dataOff + t.nbytes);
  const out = new Float64Array(count);
  const dv = c.dv, le = c.le;
  let o = t.dataOff;
  switch (t.type) {
    case miINT8: for (let i = 0; i < count; i++, o++) out[i] = dv.getInt8(o); break;
    case miINT16: for (let i = 0; i < count; i++, o += 2) out[i] = dv.getInt16(o, le); break;
    case miUINT16: for (let i = 0; i < count; i++, o += 2) out[i] = dv.getUint16(o, le); break;
    case miINT32: for (let i = 0; i < count; i++, o += 4) out[i] = dv.getInt32(o, le); break;
    case miUINT32: for (let i = 0; i < count; i++, o += 4) out[i] = dv.getUint32(o, le); break;
    case miSINGLE: for (let i = 0; i < count; i++, o += 4) out[i] = dv.getFloat32(o, le); break;
    case miDOUBLE: for (let i = 0; i < count; i++, o += 8) out[i] = dv.getFloat64(o, le); break;
    case miINT64: for (let i = 0; i < count; i++, o += 8) out[i] = Number(dv.getBigInt64(o, le)); break;
    case miUINT64: for (let i = 0; i < count; i++, o += 8) out[i] = Number(dv.getBigUint64(o, le)); break;
  }
  return out;
}

function parseMatrix(c: Cursor, t: Tag, headerOnly: boolean): MatArray | undefined {
  if (t.nbytes === 0) return undefined;
  const end = t.dataOff + t.nbytes;
  const flagsTag = readTag(c, t.dataOff, true);
  if (flagsTag.type !== miUINT32 || flagsTag.nbytes !== 8) c.fail(`array flags at byte ${t.dataOff} are malformed (type ${flagsTag.type}, ${flagsTag.nbytes} bytes)`);
  const flags = c.u32(flagsTag.dataOff);
  const cls = flags & 0xff;
  const complex = (flags & 0x0800) !== 0;
  const dimsTag = readTag(c, flagsTag.next, true);
  if (dimsTag.type !== miINT32 || dimsTag.nbytes % 4 !== 0 || dimsTag.nbytes < 8) c.fail(`dimensions at byte ${flagsTag.next} are malformed`);
  const dims: number[] = [];
  for (let i = 0; i < dimsTag.nbytes / 4; i++) {
    const d = c.dv.getInt32(dimsTag.dataOff + 4 * i, c.le);
    if (d < 0) c.fail(`negative dimension ${d}`);
    dims.push(d);
  }
  const nameTag = readTag(c, dimsTag.next, true);
  if (nameTag.type !== miINT8 && nameTag.type !== miUTF8) c.fail(`array name at byte ${dimsTag.next} is malformed (type ${nameTag.type})`);
  const name = Buffer.from(c.buf.subarray(nameTag.dataOff, nameTag.dataOff + nameTag.nbytes)).toString('latin1');
  const arr: MatArray = { name, className: CLASS_NAMES[cls] ?? `class-${cls}`, dims, complex };
  if (headerOnly || !NUMERIC_CLASSES.has(cls)) return arr;
  if (nameTag.next >= end) c.fail(`array "${name}" has no data (truncated)`);
  const realTag = readTag(c, nameTag.next, true);
  if (realTag.dataOff + realTag.nbytes > end) c.fail(`array "${name}" data runs past its element (truncated or corrupt)`);
  arr.data = numericData(c, realTag, dims.reduce((a, b) => a * b, 1), `array "${name}"`);
  return arr;
}

function inflateElement(c: Cursor, t: Tag, headerOnly: boolean): Uint8Array {
  const src = c.buf.subarray(t.dataOff, t.dataOff + t.nbytes);
  try {
    if (headerOnly) {
      // Enough of the stream to read flags, dims and name without inflating hundreds of megabytes.
      return inflateSync(src.subarray(0, Math.min(src.length, 4096)), { finishFlush: 2 /* Z_SYNC_FLUSH */ });
    }
    return inflateSync(src);
  } catch (e) {
    return c.fail(`compressed element at byte ${t.dataOff - 8} is corrupt or truncated (${(e as Error).message})`);
  }
}

function parseElements(c: Cursor, start: number, headerOnly: boolean, out: MatArray[]): void {
  let off = start;
  while (off < c.buf.length) {
    if (c.buf.length - off < 8) {
      // Trailing bytes shorter than a tag: only tolerated if they are zero padding.
      if (c.buf.subarray(off).every((b) => b === 0)) return;
      c.fail(`truncated: ${c.buf.length - off} stray bytes at byte ${off}`);
    }
    const t = readTag(c, off, true);
    if (t.type === miCOMPRESSED) {
      const inner = inflateElement(c, t, headerOnly);
      const ic = new Cursor(inner, new DataView(inner.buffer, inner.byteOffset, inner.byteLength), c.le, c.path, `inside the compressed element at byte ${off}`);
      if (headerOnly) {
        const it = readTagLenient(ic);
        if (it && it.type === miMATRIX) {
          const a = parseMatrix(ic, { ...it, nbytes: Math.min(it.nbytes, inner.length - it.dataOff) }, true);
          if (a) out.push(a);
        }
      } else {
        parseElements(ic, 0, false, out);
      }
    } else if (t.type === miMATRIX) {
      const a = parseMatrix(c, t, headerOnly);
      if (a) out.push(a);
    } else if (ELEM_SIZE[t.type] === undefined) {
      c.fail(`unknown data element type ${t.type} at byte ${off}; corrupt file`);
    }
    off = t.next;
  }
}

function readTagLenient(c: Cursor): Tag | undefined {
  if (c.buf.length < 8) return undefined;
  const w0 = c.u32(0);
  return { type: w0, nbytes: c.u32(4), dataOff: 8, next: 8 };
}

function checkHeader(buf: Uint8Array, path: string): boolean {
  if (buf.length < 128) throw new OodgenError(`MAT-file ${path}: only ${buf.length} bytes, shorter than the 128-byte MAT-file header`);
  const text = Buffer.from(buf.subarray(0, 116)).toString('latin1');
  const endian = String.fromCharCode(buf[126]!, buf[127]!);
  if (buf.length >= 516 && buf[512] === 0x89 && Buffer.from(buf.subarray(513, 516)).toString('latin1') === 'HDF') {
    throw new OodgenError(`MAT-file ${path}: MATLAB v7.3 (HDF5) files are not supported; save with -v7 (or scipy.io.savemat)`);
  }
  if (!text.startsWith('MATLAB 5.0 MAT-file') || (endian !== 'IM' && endian !== 'MI')) {
    throw new OodgenError(`MAT-file ${path}: not a MATLAB level 5 MAT-file (header text ${JSON.stringify(text.slice(0, 24))}, endian mark ${JSON.stringify(endian)})`);
  }
  return endian === 'IM';
}

/** Every variable in the file, with data for numeric arrays. */
export function readMat(path: string): MatArray[] {
  const buf = readBytes(path, 'MAT-file');
  const le = checkHeader(buf, path);
  const c = new Cursor(buf, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), le, path, '');
  const out: MatArray[] = [];
  parseElements(c, 128, false, out);
  return out;
}

/** Names, classes and dimensions only; inflates just the start of each compressed variable. */
export function readMatHeaders(path: string): MatArray[] {
  const buf = readBytes(path, 'MAT-file');
  const le = checkHeader(buf, path);
  const c = new Cursor(buf, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), le, path, '');
  const out: MatArray[] = [];
  parseElements(c, 128, true, out);
  return out;
}
