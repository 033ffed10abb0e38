// Engine tensors <-> safetensors files: module state dicts (PyTorch state_dict names, so the file loads with
// load_state_dict(strict=True) in PyTorch) and any named tensor map (optimizer state, RNG state).
import { Tensor } from '../engine/tensor.js';
import { fromBytes } from '../engine/ops/creation.js';
import type { DType } from '../engine/dtype.js';
import { OodgenError } from '../errors.js';
import { readSafetensors, writeSafetensors, type StDtype, type StTensor } from './safetensors.js';
import type { Module } from '../nn/module.js';

const TO_ST: Partial<Record<DType, StDtype>> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const FROM_ST: Record<StDtype, DType> = {
  F32: 'float32', F64: 'float64', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

/** Options for reading checkpoints. */
export interface LoadOptions {
  /**
   * Accept NaN / ±Infinity in floating-point tensors. Off by default: a checkpoint with a non-finite weight
   * scores every image as NaN, which is a broken run, not a result.
   */
  allowNonFinite?: boolean;
}

export function tensorToSt(t: Tensor): StTensor {
  const dtype = TO_ST[t.dtype];
  if (!dtype) throw new Error(`cannot store dtype ${t.dtype} in safetensors`);
  return { dtype, shape: t.shape, data: t.bytes() };
}

/** A CPU tensor holding a copy of a safetensors entry. */
export function stToTensor(s: StTensor): Tensor {
  return fromBytes(s.data, s.shape, FROM_ST[s.dtype]);
}

// Per floating dtype: element size, and (for the top two bytes of a little-endian element) the exponent bits and
// the mantissa bits. An all-ones exponent is NaN (some mantissa bit set) or an infinity (none set).
const FLOAT_BITS: Partial<Record<StDtype, { size: number; exp: [number, number]; man: [number, number] }>> = {
  F64: { size: 8, exp: [0x7f, 0xf0], man: [0x00, 0x0f] },
  F32: { size: 4, exp: [0x7f, 0x80], man: [0x00, 0x7f] },
  BF16: { size: 2, exp: [0x7f, 0x80], man: [0x00, 0x7f] },
  F16: { size: 2, exp: [0x7c, 0x00], man: [0x03, 0xff] },
};

/**
 * The first non-finite element of a floating-point entry, or null. Read from the IEEE-754 bit patterns of the raw
 * bytes, so entries at unaligned offsets need no copy.
 */
export function firstNonFinite(s: StTensor): { index: number; value: 'NaN' | 'Infinity' | '-Infinity' } | null {
  const f = FLOAT_BITS[s.dtype];
  if (!f) return null;
  const b = s.data;
  const { size, exp: [e1, e0], man: [m1, m0] } = f;
  for (let o = 0, i = 0; o + size <= b.length; o += size, i++) {
    const top = b[o + size - 1], next = b[o + size - 2];
    if ((top & e1) !== e1 || (next & e0) !== e0) continue;
    let mantissa = (top & m1) | (next & m0);
    for (let k = o; k < o + size - 2; k++) mantissa |= b[k];
    return { index: i, value: mantissa !== 0 ? 'NaN' : top & 0x80 ? '-Infinity' : 'Infinity' };
  }
  return null;
}

function checkFinite(path: string, name: string, s: StTensor): void {
  const bad = firstNonFinite(s);
  if (!bad) return;
  throw new OodgenError(`checkpoint ${path}: tensor '${name}' (shape [${s.shape.join(', ')}], ${s.dtype}) holds ` +
    `${bad.value} at flat index ${bad.index}; a non-finite weight makes every score NaN (retrain or pick an ` +
    'earlier checkpoint)');
}

/** Writes named tensors atomically. */
export function saveTensors(path: string, tensors: Map<string, Tensor>, metadata?: Record<string, string>): void {
  const out = new Map<string, StTensor>();
  for (const [k, t] of tensors) out.set(k, tensorToSt(t));
  writeSafetensors(path, out, metadata);
}

/**
 * Reads every tensor of a file onto the CPU (caller disposes). A NaN or infinity in any floating-point tensor is
 * an OodgenError naming the file and the tensor unless opts.allowNonFinite.
 */
export function loadTensors(path: string, opts: LoadOptions = {}): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const f = readSafetensors(path);
  if (!opts.allowNonFinite) for (const [k, s] of f.tensors) checkFinite(path, k, s);
  const tensors = new Map<string, Tensor>();
  try {
    for (const [k, s] of f.tensors) tensors.set(k, stToTensor(s));
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  return { tensors, metadata: f.metadata };
}

/** Saves a module's parameters and buffers under PyTorch state_dict names. */
export function saveStateDict(path: string, module: Module, metadata?: Record<string, string>): void {
  saveTensors(path, module.stateDict(), { format: 'pt', ...metadata });
}

/**
 * Loads a safetensors state dict into a module. strict (default): the key sets must match exactly; shapes must
 * always match; non-finite values are refused unless allowNonFinite. Errors name the file.
 */
export function loadStateDict(path: string, module: Module, opts: { strict?: boolean } & LoadOptions = {}): { missing: string[]; unexpected: string[]; metadata: Record<string, string> } {
  const { tensors, metadata } = loadTensors(path, opts);
  try {
    return { ...module.loadStateDict(tensors, opts), metadata };
  } catch (e) {
    throw new OodgenError(`checkpoint ${path}: ${(e as Error).message}`);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
