// Calls ATen operators by name through the shim's boxed dispatcher entry point, converting Tensors to handles
// and back, and rewriting libtorch's errors so they name the operator and the argument shapes.
import { native, type NativeValue, type OpHandle, type TensorHandle } from './native.js';
import { Tensor } from './tensor.js';

const ops = new Map<string, OpHandle>();

/** Resolves "aten::name.overload" once and caches the handle. */
export function opHandle(qualified: string): OpHandle {
  let h = ops.get(qualified);
  if (!h) {
    const m = /^([a-z_]+::[A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?$/.exec(qualified);
    if (!m) throw new Error(`bad operator name '${qualified}'`);
    h = native.op(m[1], m[2] ?? '');
    ops.set(qualified, h);
  }
  return h;
}

export function hasOp(qualified: string): boolean {
  try {
    opHandle(qualified);
    return true;
  } catch {
    return false;
  }
}

function toNative(a: unknown): unknown {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a)) return a.map(toNative);
  return a;
}

function describe(a: unknown): string {
  if (a instanceof Tensor) return a.isDisposed ? 'Tensor(disposed)' : `Tensor[${a.shape.join(', ')}] ${a.dtype}${a.device === 'cpu' ? '' : ' ' + a.device}`;
  if (Array.isArray(a)) return `[${a.map(describe).join(', ')}]`;
  if (a === undefined) return '-';
  return JSON.stringify(a);
}

export function fromNative(v: NativeValue): unknown {
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(fromNative);
  return new Tensor(v as TensorHandle);
}

/** Calls an operator; returns Tensors, numbers, booleans, null or arrays of those. */
export function callOp(qualified: string, args: unknown[]): unknown {
  const h = opHandle(qualified);
  const nat = new Array(args.length);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    nat[i] = a instanceof Tensor ? a.handle : Array.isArray(a) ? a.map(toNative) : a;
  }
  let out: NativeValue;
  try {
    out = native.call(h, nat);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${qualified}(${args.map(describe).join(', ')}): ${msg}`);
  }
  return fromNative(out);
}

/** Calls an operator that returns one tensor. */
export const call = (qualified: string, ...args: unknown[]): Tensor => callOp(qualified, args) as Tensor;

/** Calls an in-place operator; the aliasing handle it returns is released at once. */
export function callInPlace(qualified: string, ...args: unknown[]): void {
  const r = callOp(qualified, args);
  if (r instanceof Tensor) r.dispose();
  else if (Array.isArray(r)) for (const x of r) if (x instanceof Tensor) x.dispose();
}
