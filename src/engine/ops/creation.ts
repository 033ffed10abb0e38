// Creation ops. Random creation takes an optional Generator so runs are reproducible without global state.
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { call } from '../dispatch.js';
import { dtypeCode, dtypeOfArray, type DType } from '../dtype.js';
import type { Generator } from '../random.js';

export interface CreateOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}
export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad_(true);
  return t;
}
const dt = (o: CreateOptions, fallback: DType = 'float32'): number => dtypeCode(o.dtype ?? fallback);
const dev = (o: CreateOptions): string | null => o.device ?? null;

function checkShape(shape: number[], what: string): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${what}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
}

/** Copies a typed array into a new tensor of the given shape (dtype follows the array unless given). */
export function fromTypedArray(data: ArrayBufferView, shape: number[], o: CreateOptions = {}): Tensor {
  checkShape(shape, 'fromTypedArray');
  const natural = dtypeOfArray(data);
  let t = new Tensor(native.fromBuffer(data, shape, dtypeCode(natural)));
  if (o.dtype && o.dtype !== natural) {
    const c = call('aten::to.dtype', t, dtypeCode(o.dtype), false, false, null);
    t.dispose();
    t = c;
  }
  if (o.device && o.device !== 'cpu') {
    const c = call('aten::to.device', t, o.device, dtypeCode(t.dtype), false, false, null);
    t.dispose();
    t = c;
  }
  return finish(t, o);
}

/**
 * A new CPU tensor holding a copy of raw little-endian bytes read as `dtype` (any dtype, float16/bfloat16/bool
 * included, which no typed array holds). The bytes may be a view at any offset.
 */
export function fromBytes(bytes: Uint8Array, shape: number[], dtype: DType): Tensor {
  checkShape(shape, 'fromBytes');
  return new Tensor(native.fromBuffer(bytes, shape, dtypeCode(dtype)));
}

/** Creates a tensor from nested-free JS numbers (float32 unless dtype says otherwise). */
export function tensor(values: number[] | ArrayBufferView, shape?: number[], o: CreateOptions = {}): Tensor {
  if (ArrayBuffer.isView(values)) return fromTypedArray(values, shape ?? [(values as Float32Array).length], o);
  const d = o.dtype ?? 'float32';
  const arr = d === 'float64' ? Float64Array.from(values) : d === 'int64' ? BigInt64Array.from(values.map((v) => BigInt(Math.trunc(v))))
    : d === 'int32' ? Int32Array.from(values) : d === 'uint8' || d === 'bool' ? Uint8Array.from(values) : Float32Array.from(values);
  let t = fromTypedArray(arr, shape ?? [values.length], { ...o, dtype: d === 'bool' ? 'uint8' : d });
  if (d === 'bool') {
    const b = call('aten::to.dtype', t, dtypeCode('bool'), false, false, null);
    t.dispose();
    t = b;
  }
  return t;
}

export const scalar = (v: number, o: CreateOptions = {}): Tensor => full([], v, o);

export function zeros(shape: number[], o: CreateOptions = {}): Tensor {
  checkShape(shape, 'zeros');
  return finish(call('aten::zeros', shape, dt(o), null, dev(o), null), o);
}
export function ones(shape: number[], o: CreateOptions = {}): Tensor {
  checkShape(shape, 'ones');
  return finish(call('aten::ones', shape, dt(o), null, dev(o), null), o);
}
export function full(shape: number[], value: number, o: CreateOptions = {}): Tensor {
  checkShape(shape, 'full');
  return finish(call('aten::full', shape, value, dt(o), null, dev(o), null), o);
}
export function arange(end: number, o?: CreateOptions): Tensor;
export function arange(start: number, end: number, step?: number, o?: CreateOptions): Tensor;
export function arange(a: number, b?: number | CreateOptions, c?: number, d?: CreateOptions): Tensor {
  const [start, end, step, o] = typeof b === 'number' ? [a, b, c ?? 1, d ?? {}] : [0, a, 1, (b as CreateOptions) ?? {}];
  return finish(call('aten::arange.start_step', start, end, step, dt(o, 'int64'), null, dev(o), null), o);
}
export function linspace(start: number, end: number, steps: number, o: CreateOptions = {}): Tensor {
  return finish(call('aten::linspace', start, end, steps, dt(o), null, dev(o), null), o);
}
export function zerosLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(call('aten::zeros_like', t, o.dtype ? dtypeCode(o.dtype) : null, null, o.device ?? null, null, null), o);
}
export function onesLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(call('aten::ones_like', t, o.dtype ? dtypeCode(o.dtype) : null, null, o.device ?? null, null, null), o);
}
export function fullLike(t: Tensor, value: number, o: CreateOptions = {}): Tensor {
  return finish(call('aten::full_like', t, value, o.dtype ? dtypeCode(o.dtype) : null, null, o.device ?? null, null, null), o);
}

function gen(o: RandomOptions): unknown {
  return o.generator ? o.generator.handleFor(o.device ?? 'cpu') : null;
}

/** Standard normal samples. */
export function randn(shape: number[], o: RandomOptions = {}): Tensor {
  checkShape(shape, 'randn');
  return finish(call('aten::randn.generator', shape, gen(o), dt(o), null, dev(o), null), o);
}
/** Uniform samples in [0, 1). */
export function rand(shape: number[], o: RandomOptions = {}): Tensor {
  checkShape(shape, 'rand');
  return finish(call('aten::rand.generator', shape, gen(o), dt(o), null, dev(o), null), o);
}
/** Uniform integers in [low, high). */
export function randint(low: number, high: number, shape: number[], o: RandomOptions = {}): Tensor {
  checkShape(shape, 'randint');
  return finish(call('aten::randint.low_generator', low, high, shape, gen(o), dt(o, 'int64'), null, dev(o), null), o);
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, o: RandomOptions = {}): Tensor {
  return finish(call('aten::randperm.generator', n, gen(o), dt(o, 'int64'), null, dev(o), null), o);
}
/** randn with the shape, dtype and device of t. */
export function randnLike(t: Tensor, o: { generator?: Generator } = {}): Tensor {
  return randn(t.shape, { dtype: t.dtype, device: t.device, generator: o.generator });
}
export function randLike(t: Tensor, o: { generator?: Generator } = {}): Tensor {
  return rand(t.shape, { dtype: t.dtype, device: t.device, generator: o.generator });
}
