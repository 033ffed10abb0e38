// Engine tensors <-> safetensors files: module state dicts (PyTorch state_dict names, so the file loads with
// load_state_dict(strict=True) in PyTorch) and any named tensor map (optimizer state, RNG state).
import { Tensor } from '../engine/tensor.js';
import { native } from '../engine/native.js';
import { dtypeCode, type DType } from '../engine/dtype.js';
import { OodgenError } from '../errors.js';
import { readSafetensors, writeSafetensors, type StDtype, type StTensor } from './safetensors.js';
import type { Module } from '../nn/module.js';

const TO_ST: Partial<Record<DType, StDtype>> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const FROM_ST: Record<StDtype, DType> = {
  F32: 'float32', F64: 'float64', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

export function tensorToSt(t: Tensor): StTensor {
  const dtype = TO_ST[t.dtype];
  if (!dtype) throw new Error(`cannot store dtype ${t.dtype} in safetensors`);
  return { dtype, shape: t.shape, data: t.bytes() };
}

/** A CPU tensor holding a copy of a safetensors entry. */
export function stToTensor(s: StTensor): Tensor {
  // Copy into a fresh buffer: the entry is a view into the file buffer at an arbitrary offset.
  const bytes = new Uint8Array(s.data);
  return new Tensor(native.fromBuffer(bytes, s.shape, dtypeCode(FROM_ST[s.dtype])));
}

/** Writes named tensors atomically. */
export function saveTensors(path: string, tensors: Map<string, Tensor>, metadata?: Record<string, string>): void {
  const out = new Map<string, StTensor>();
  for (const [k, t] of tensors) out.set(k, tensorToSt(t));
  writeSafetensors(path, out, metadata);
}

/** Reads every tensor of a file onto the CPU (caller disposes). */
export function loadTensors(path: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const f = readSafetensors(path);
  const tensors = new Map<string, Tensor>();
  for (const [k, s] of f.tensors) tensors.set(k, stToTensor(s));
  return { tensors, metadata: f.metadata };
}

/** Saves a module's parameters and buffers under PyTorch state_dict names. */
export function saveStateDict(path: string, module: Module, metadata?: Record<string, string>): void {
  saveTensors(path, module.stateDict(), { format: 'pt', ...metadata });
}

/**
 * Loads a safetensors state dict into a module. strict (default): the key sets must match exactly; shapes must
 * always match. Errors name the file.
 */
export function loadStateDict(path: string, module: Module, opts: { strict?: boolean } = {}): { missing: string[]; unexpected: string[]; metadata: Record<string, string> } {
  const { tensors, metadata } = loadTensors(path);
  try {
    return { ...module.loadStateDict(tensors, opts), metadata };
  } catch (e) {
    throw new OodgenError(`checkpoint ${path}: ${(e as Error).message}`);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
