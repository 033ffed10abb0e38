/**
 * Hugging Face safetensors format, pure TypeScript (no engine dependency).
 *
 * Layout: 8-byte little-endian u64 header length N, then N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}`,
 * then the raw little-endian data buffer. Offsets are relative to the start of the
 * data section. When writing, the header is padded with spaces so the data section
 * starts 8-byte aligned, and tensors are laid out deterministically exactly as the
 * Python library does: by dtype (I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL), then by name.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { OodgenError } from '../errors.js';

export type StDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface StTensor {
  dtype: StDtype;
  shape: number[];
  /** Raw bytes, little-endian. */
  data: Uint8Array;
}

export interface StFile {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

export const DTYPE_SIZE: Readonly<Record<StDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Order of the reference (Rust) Dtype enum; serialization sorts by this, descending, then by name. */
const DTYPE_RANK: Readonly<Record<StDtype, number>> = {
  BOOL: 0, U8: 1, I8: 2, I16: 5, F16: 7, BF16: 8, I32: 9, F32: 11, F64: 12, I64: 13,
};

const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const METADATA_KEY = '__metadata__';

function isDtype(s: unknown): s is StDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function fail(name: string, problem: string): never {
  throw new OodgenError(`safetensors file ${name}: ${problem}`);
}

/** Reads and validates a safetensors file. Throws OodgenError naming the file on any problem. */
export function readSafetensors(path: string): StFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new OodgenError(`safetensors file ${path}: cannot read (${(e as Error).message})`);
  }
  return parseSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

/**
 * Parses a safetensors byte buffer. Tensor `data` fields are views into `buf` (no copy);
 * use toTypedArray() to get an aligned typed array.
 */
export function parseSafetensors(buf: Uint8Array, nameForErrors: string): StFile {
  const name = nameForErrors;
  if (buf.byteLength < 8) fail(name, `file is ${buf.byteLength} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(name, `header length ${n64} is absurd (> ${MAX_HEADER_BYTES} bytes)`);
  const n = Number(n64);
  if (8 + n > buf.byteLength) fail(name, `header length ${n} goes beyond the file size ${buf.byteLength}`);
  if (n < 2) fail(name, `header length ${n} is too short to hold a JSON object`);

  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch (e) {
    fail(name, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail(name, 'header is not a JSON object');

  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { key: string; dtype: StDtype; shape: number[]; begin: number; end: number }[] = [];

  for (const [key, raw] of Object.entries(header as Record<string, unknown>)) {
    if (key === METADATA_KEY) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(name, '__metadata__ is not an object');
      for (const [mk, mv] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail(name, `__metadata__ value for "${mk}" is not a string`);
        metadata[mk] = mv;
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(name, `tensor "${key}": entry is not an object`);
    const info = raw as Record<string, unknown>;
    if (!isDtype(info.dtype)) fail(name, `tensor "${key}": unknown dtype ${JSON.stringify(info.dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(name, `tensor "${key}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(name, `tensor "${key}": data_offsets ${JSON.stringify(offs)} is not a pair of non-negative integers`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin) fail(name, `tensor "${key}": data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLen) {
      fail(name, `tensor "${key}": data_offsets [${begin}, ${end}] out of range (data section is ${dataLen} bytes; truncated file?)`);
    }
    const want = numel(shape as number[]) * DTYPE_SIZE[info.dtype];
    if (end - begin !== want) {
      fail(name, `tensor "${key}": ${info.dtype} shape [${(shape as number[]).join(', ')}] needs ${want} bytes but data_offsets span ${end - begin}`);
    }
    entries.push({ key, dtype: info.dtype, shape: (shape as number[]).slice(), begin, end });
  }

  // Offsets must tile the data section exactly: no overlap, no gap, no trailing bytes.
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) fail(name, `tensor "${e.key}": data_offsets [${e.begin}, ${e.end}] overlap a previous tensor`);
    if (e.begin > pos) fail(name, `data section has a gap at bytes [${pos}, ${e.begin}) before tensor "${e.key}"`);
    pos = e.end;
  }
  if (pos !== dataLen) {
    fail(name, `data section is ${dataLen} bytes but tensors cover ${pos} (${dataLen - pos} trailing bytes)`);
  }

  const tensors = new Map<string, StTensor>();
  for (const e of entries) {
    tensors.set(e.key, { dtype: e.dtype, shape: e.shape, data: buf.subarray(dataStart + e.begin, dataStart + e.end) });
  }
  return { tensors, metadata };
}

/** Serializes tensors (sorted by name) and optional string metadata to safetensors bytes. */
export function serializeSafetensors(
  tensors: Map<string, StTensor> | Record<string, StTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  // Same order as the reference implementation: dtype rank descending (so wider elements come first
  // and every tensor stays aligned), then name.
  const names = [...map.keys()].sort((a, b) => {
    const r = DTYPE_RANK[map.get(b)!.dtype] - DTYPE_RANK[map.get(a)!.dtype];
    return r !== 0 ? r : a < b ? -1 : a > b ? 1 : 0;
  });
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new OodgenError(`safetensors metadata value for "${k}" is not a string`);
    }
    header[METADATA_KEY] = metadata;
  }
  let off = 0;
  for (const k of names) {
    if (k === METADATA_KEY) throw new OodgenError(`safetensors tensor name "${METADATA_KEY}" is reserved`);
    const t = map.get(k)!;
    if (!isDtype(t.dtype)) throw new OodgenError(`safetensors tensor "${k}": unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new OodgenError(`safetensors tensor "${k}": bad shape ${JSON.stringify(t.shape)}`);
    }
    const want = numel(t.shape) * DTYPE_SIZE[t.dtype];
    if (t.data.byteLength !== want) {
      throw new OodgenError(`safetensors tensor "${k}": ${t.dtype} shape [${t.shape.join(', ')}] needs ${want} bytes, got ${t.data.byteLength}`);
    }
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + want] };
    off += want;
  }
  let hbytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(hbytes.byteLength / 8) * 8;
  if (padded !== hbytes.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(hbytes);
    hbytes = p;
  }
  const out = new Uint8Array(8 + padded + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(hbytes, 8);
  let pos = 8 + padded;
  for (const k of names) {
    const d = map.get(k)!.data;
    out.set(d, pos);
    pos += d.byteLength;
  }
  return out;
}

/**
 * Writes a safetensors file atomically: to `path + '.tmp-<pid>-<rand>'`, fsync, then rename.
 * Tensor layout is deterministic (dtype rank, then sorted names) as in the Python library.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, StTensor> | Record<string, StTensor>,
  metadata?: Record<string, string>,
): void {
  const bytes = serializeSafetensors(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w', 0o644);
    let written = 0;
    while (written < bytes.byteLength) {
      written += writeSync(fd, bytes, written, bytes.byteLength - written);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try { closeSync(fd); } catch { /* ignore */ }
    }
    try { unlinkSync(tmp); } catch { /* ignore */ }
    throw new OodgenError(`cannot write safetensors file ${path}: ${(e as Error).message}`);
  }
}

export type StTypedArray =
  | Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/**
 * Returns a typed array over the tensor's elements (little-endian host assumed).
 * F16 and BF16 come back as raw Uint16Array bit patterns; BOOL as Uint8Array of 0/1.
 * Copies into a fresh aligned buffer when `data` is not aligned for the element size.
 */
export function toTypedArray(t: StTensor): StTypedArray {
  const size = DTYPE_SIZE[t.dtype];
  let d = t.data;
  if (d.byteOffset % size !== 0) d = d.slice();
  const n = d.byteLength / size;
  switch (t.dtype) {
    case 'F64': return new Float64Array(d.buffer, d.byteOffset, n);
    case 'F32': return new Float32Array(d.buffer, d.byteOffset, n);
    case 'F16':
    case 'BF16': return new Uint16Array(d.buffer, d.byteOffset, n);
    case 'I64': return new BigInt64Array(d.buffer, d.byteOffset, n);
    case 'I32': return new Int32Array(d.buffer, d.byteOffset, n);
    case 'I16': return new Int16Array(d.buffer, d.byteOffset, n);
    case 'I8': return new Int8Array(d.buffer, d.byteOffset, n);
    case 'U8':
    case 'BOOL': return new Uint8Array(d.buffer, d.byteOffset, n);
  }
}

/** Float32 view of a floating tensor (F32 without copy when aligned; F64/F16/BF16 converted). */
export function toFloat32(t: StTensor): Float32Array {
  const a = toTypedArray(t);
  if (t.dtype === 'F32') return a as Float32Array;
  if (t.dtype === 'F64') return Float32Array.from(a as Float64Array);
  if (t.dtype === 'BF16') {
    const u = a as Uint16Array;
    const bits = new Uint32Array(u.length);
    for (let i = 0; i < u.length; i++) bits[i] = u[i]! << 16;
    return new Float32Array(bits.buffer);
  }
  if (t.dtype === 'F16') {
    const u = a as Uint16Array;
    const out = new Float32Array(u.length);
    for (let i = 0; i < u.length; i++) out[i] = halfToFloat(u[i]!);
    return out;
  }
  throw new OodgenError(`toFloat32: dtype ${t.dtype} is not floating point`);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/**
 * Builds an StTensor from a typed array (its bytes are copied). `dtype` defaults from the array type
 * (Float32Array->F32, Float64Array->F64, BigInt64Array->I64, Int32Array->I32, Int16Array->I16,
 * Int8Array->I8, Uint8Array->U8); pass 'F16'/'BF16' with a Uint16Array of bit patterns, or 'BOOL' with a Uint8Array.
 */
export function fromTypedArray(arr: StTypedArray, shape: number[], dtype?: StDtype): StTensor {
  const dt = dtype ?? defaultDtype(arr);
  const size = DTYPE_SIZE[dt];
  if (arr.BYTES_PER_ELEMENT !== size) {
    throw new OodgenError(`fromTypedArray: ${arr.constructor.name} (element ${arr.BYTES_PER_ELEMENT} bytes) does not match dtype ${dt}`);
  }
  if (numel(shape) !== arr.length) {
    throw new OodgenError(`fromTypedArray: shape [${shape.join(', ')}] has ${numel(shape)} elements, array has ${arr.length}`);
  }
  const data = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).slice();
  return { dtype: dt, shape: shape.slice(), data };
}

function defaultDtype(arr: StTypedArray): StDtype {
  if (arr instanceof Float32Array) return 'F32';
  if (arr instanceof Float64Array) return 'F64';
  if (arr instanceof BigInt64Array) return 'I64';
  if (arr instanceof Int32Array) return 'I32';
  if (arr instanceof Int16Array) return 'I16';
  if (arr instanceof Int8Array) return 'I8';
  if (arr instanceof Uint8Array) return 'U8';
  throw new OodgenError(`fromTypedArray: pass an explicit dtype for ${arr.constructor.name}`);
}
