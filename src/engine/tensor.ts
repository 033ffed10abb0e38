// Tensor: an owning wrapper around a native handle. Free it with dispose() or inside tidy();
// the FinalizationRegistry frees forgotten tensors eventually, but only as a backstop.
import { native, type TensorHandle } from './native.js';
import { dtypeName, typedArrayFor, type DType, type TypedArray } from './dtype.js';
import { track } from './scope.js';
import * as ops from './ops/index.js';

const registry = new FinalizationRegistry<TensorHandle>((h) => {
  try { native.dispose(h); } catch { /* already gone */ }
});


type Scalarish = Tensor | number;

export class Tensor {
  readonly __isTensor = true;
  private _h: TensorHandle | null;
  private _shape: number[] | null = null;
  private _dtype: DType | null = null;
  private _registered = false;

  constructor(handle: TensorHandle) {
    this._h = handle;
    if (!track(this)) this._guard();
  }

  /**
   * @internal Registers this tensor with the backstop registry. Tensors created inside a tidy() scope are
   * registered only if they leave every scope (returned to the top level or keep()-ed): registering every
   * temporary cost as much as a small op.
   */
  _guard(): void {
    if (this._registered || this._h === null) return;
    registry.register(this, this._h, this);
    this._registered = true;
  }

  /** The native handle; throws if disposed. */
  get handle(): TensorHandle {
    if (this._h === null) throw new Error('tensor used after dispose()');
    return this._h;
  }

  get isDisposed(): boolean {
    return this._h === null;
  }

  dispose(): void {
    if (this._h === null) return;
    if (this._registered) registry.unregister(this);
    this._registered = false;
    native.dispose(this._h);
    this._h = null;
  }

  /** Swaps in another tensor's storage, keeping this object's identity (used by Module.to()). Takes ownership. */
  replaceWith(other: Tensor): void {
    const h = other._h;
    if (h === null) throw new Error('replaceWith: source tensor is disposed');
    if (other._registered) registry.unregister(other);
    other._registered = false;
    other._h = null;
    if (this._h !== null) {
      if (this._registered) registry.unregister(this);
      native.dispose(this._h);
    }
    this._h = h;
    this._shape = null;
    this._dtype = null;
    this._registered = false;
    this._guard();
  }

  get shape(): number[] {
    if (this._shape === null) this._shape = native.shape(this.handle);
    return this._shape.slice();
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  size(dim: number): number {
    const s = this.shape;
    return s[dim < 0 ? s.length + dim : dim];
  }
  get dtype(): DType {
    if (this._dtype === null) this._dtype = dtypeName(native.dtype(this.handle));
    return this._dtype;
  }
  get device(): string {
    return native.device(this.handle);
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  set requiresGrad(v: boolean) {
    native.setRequiresGrad(this.handle, v);
  }
  requiresGrad_(v = true): this {
    native.setRequiresGrad(this.handle, v);
    return this;
  }
  /** The accumulated gradient as a new tensor (owned by the caller / current scope), or null. */
  grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  setGrad(g: Tensor | null): void {
    native.setGrad(this.handle, g === null ? null : g.handle);
  }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    native.backward([this.handle], gradient ? [gradient.handle] : null, opts.retainGraph ?? false, false);
  }

  // ---- data ----
  /** A copy of the data as the dtype's typed array (int64 -> BigInt64Array, float16 -> raw Uint16Array). */
  data(): TypedArray {
    return typedArrayFor(this.dtype, native.toBuffer(this.handle));
  }
  /** A copy of the data as float32 values. */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.data() as Float32Array;
    const t = ops.toDtype(this, 'float32');
    try { return t.data() as Float32Array; } finally { t.dispose(); }
  }
  /** The raw little-endian bytes of a contiguous CPU copy. */
  bytes(): Uint8Array {
    return new Uint8Array(native.toBuffer(this.handle));
  }
  toArray(): number[] {
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d as ArrayLike<number>);
  }
  item(): number {
    if (this.numel !== 1) throw new Error(`item(): tensor has ${this.numel} elements, shape [${this.shape.join(', ')}]`);
    return this.toArray()[0];
  }

  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- method forms of common ops (see ops/ for the full set) ----
  add(b: Scalarish): Tensor { return ops.add(this, b); }
  sub(b: Scalarish): Tensor { return ops.sub(this, b); }
  mul(b: Scalarish): Tensor { return ops.mul(this, b); }
  div(b: Scalarish): Tensor { return ops.div(this, b); }
  neg(): Tensor { return ops.neg(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  square(): Tensor { return ops.square(this); }
  pow(e: number): Tensor { return ops.pow(this, e); }
  abs(): Tensor { return ops.abs(this); }
  clamp(min: number | null, max: number | null = null): Tensor { return ops.clamp(this, min, max); }
  sum(dim?: number | number[] | null, keepdim = false): Tensor { return ops.sum(this, dim, keepdim); }
  mean(dim?: number | number[] | null, keepdim = false): Tensor { return ops.mean(this, dim, keepdim); }
  reshape(shape: number[]): Tensor { return ops.reshape(this, shape); }
  view(shape: number[]): Tensor { return ops.view(this, shape); }
  flatten(start = 0, end = -1): Tensor { return ops.flatten(this, start, end); }
  permute(dims: number[]): Tensor { return ops.permute(this, dims); }
  transpose(d0: number, d1: number): Tensor { return ops.transpose(this, d0, d1); }
  unsqueeze(dim: number): Tensor { return ops.unsqueeze(this, dim); }
  squeeze(dim: number): Tensor { return ops.squeeze(this, dim); }
  narrow(dim: number, start: number, length: number): Tensor { return ops.narrow(this, dim, start, length); }
  chunk(n: number, dim = 0): Tensor[] { return ops.chunkAll(this, n, dim); }
  matmul(b: Tensor): Tensor { return ops.matmul(this, b); }
  detach(): Tensor { return ops.detach(this); }
  clone(): Tensor { return ops.clone(this); }
  contiguous(): Tensor { return ops.contiguous(this); }
  to(device: string): Tensor { return ops.toDevice(this, device); }
  toDtype(d: DType): Tensor { return ops.toDtype(this, d); }
  float(): Tensor { return ops.toDtype(this, 'float32'); }
}
