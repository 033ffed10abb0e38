/**
 * Batches for the engine. The only file of the dataset layer that touches tensors (the engine loads its native
 * addon on first use, so reading, checking and previewing data never starts libtorch). `imageBatch` is the one
 * function that turns images idx[...] of a set into a (B, C, H, W) float tensor in [0, 1]; training, scoring,
 * evaluation and the latent analysis all use it.
 *
 * Two modes:
 *  - host (BatchIterator): images stay in JS memory; each batch is gathered and scaled to [0,1] on the host and
 *    copied to the device in one transfer.
 *  - device-resident (DeviceDataset): the whole set is uploaded once (as uint8 when it is uint8, 4x smaller) and
 *    batches are gathered with index_select on the device; only the index (and the noise, if dequantizing)
 *    crosses the bus per batch. For sets that fit: Fashion-MNIST at 32x32 is 61 MB as uint8.
 *
 * Dequantization noise has one source in oodgen: an engine Generator, through `dequantizeTensor`, as the trainer
 * draws it. Both iterators seed one CPU Generator per epoch (`dequantizeSeed`) and draw each batch's noise from it
 * in batch order, so the host and device-resident iterators give the same batches, and those equal the trainer's
 * formula applied with a Generator of that seed.
 */
import { OodgenError } from '../errors.js';
import { Generator as TorchGenerator, fromTypedArray, indexSelect, add, div, mul, rand, round, tidy, call, toDtype, type Tensor } from '../engine/index.js';
import { Rng, permutation } from './rng.js';
import type { ImageSet } from './types.js';

/** What the dataset layer needs from a tensor (src/engine's Tensor has all of it). */
export interface TensorLike {
  readonly shape: number[];
  to(device: string): TensorLike;
  dispose(): void;
  float(): TensorLike;
  add(b: TensorLike | number): TensorLike;
  mul(b: TensorLike | number): TensorLike;
  div(b: TensorLike | number): TensorLike;
}

export interface EngineLike {
  fromTypedArray(data: ArrayBufferView, shape: number[], opts?: { device?: string; dtype?: 'int64' | 'float32' | 'uint8' | 'int32' }): TensorLike;
  indexSelect(x: TensorLike, dim: number, index: TensorLike): TensorLike;
}

const ENGINE: EngineLike = {
  fromTypedArray: (data, shape, opts) => fromTypedArray(data, shape, opts),
  indexSelect: (x, dim, index) => indexSelect(x as Tensor, dim, index as Tensor),
};

/** The engine as the batch iterators use it (kept for callers written when it was imported dynamically). */
export function loadEngine(): Promise<EngineLike> {
  return Promise.resolve(ENGINE);
}

/** Images as float32 in [0, 1]: uint8 scaled by 1/255, float32 returned as is (not copied). */
export function toUnitFloat(images: Uint8Array | Float32Array): Float32Array {
  return images instanceof Float32Array ? images : Float32Array.from(images, (v) => v / 255);
}

/**
 * Images idx[...] of a set as one (B, C, H, W) float32 tensor in [0, 1] on `device` (gathered on the host, one
 * transfer). The one batching function of oodgen.
 */
export function imageBatch(set: Pick<ImageSet, 'images' | 'shape'>, idx: ArrayLike<number>, device = 'cpu'): Tensor {
  const [, c, h, w] = set.shape;
  return fromTypedArray(gatherBatch(set, idx).x, [idx.length, c, h, w], device === 'cpu' ? {} : { device }); // (B, C, H, W)
}

export interface BatchOptions {
  batchSize: number;
  shuffle?: boolean;
  /** Seeds shuffling and dequantization noise (an engine Generator seeded with dequantizeSeed(seed, epoch)). */
  seed?: number;
  dropLast?: boolean;
  device?: string;
  /** Add uniform dequantization noise: x' = (x*255 + u)/256 (see preprocess.ts). For training batches only. */
  dequantize?: boolean;
  /** Restrict to these indices (e.g. the train part of trainValSplit). */
  indices?: Int32Array;
  epoch?: number;
}

export interface Batch<T = TensorLike> {
  x: T;
  y?: T;
  /** Positions in the set of the images in this batch. */
  index: Int32Array;
}

function checkOptions(set: ImageSet, o: BatchOptions): Int32Array {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new OodgenError(`batch size must be a positive integer, got ${o.batchSize}`);
  const n = set.shape[0];
  const base = o.indices ?? Int32Array.from({ length: n }, (_, i) => i);
  for (const i of base) if (i < 0 || i >= n) throw new OodgenError(`${set.name}: batch index ${i} outside 0..${n - 1}`);
  return base;
}

/** The order of one epoch: the base indices, permuted with seed + epoch when shuffling. */
export function epochOrder(base: Int32Array, shuffle: boolean, seed: number, epoch: number): Int32Array {
  if (!shuffle) return base;
  const p = permutation(base.length, new Rng((seed + epoch * 0x9e3779b1) >>> 0));
  return Int32Array.from(p, (k) => base[k]!);
}

/** Seed of the engine Generator the batch iterators draw an epoch's dequantization noise from. */
export function dequantizeSeed(seed: number, epoch: number): number {
  return ((seed ^ 0x5bd1e995) + epoch) >>> 0;
}

/**
 * Dequantized training pixels (round(x*255) + u) / 256, u ~ U[0,1) drawn on the CPU from `generator` and moved to
 * x's device (so a CUDA run draws the same stream). The formula and why: data/preprocess.ts dequantize.
 */
export function dequantizeTensor(x: Tensor, generator: TorchGenerator): Tensor {
  // tidy: the iterators call this outside any scope, so the intermediates are freed here.
  return tidy(() => {
    // A device generator (CUDA-graph steps) draws on the device.
    if (generator.device !== 'cpu') return div(add(round(mul(x, 255)), rand(x.shape, { generator, device: x.device })), 256);
    const u0 = rand(x.shape, { generator });
    const u = x.device === 'cpu' ? u0 : u0.to(x.device);
    return div(add(round(mul(x, 255)), u), 256);
  });
}

/** Host-side gathering and scaling to [0, 1] of one batch (no noise: see dequantizeTensor). */
export function gatherBatch(set: Pick<ImageSet, 'images' | 'shape'> & { labels?: Int32Array }, index: ArrayLike<number>): { x: Float32Array; y?: Int32Array } {
  const [, c, h, w] = set.shape;
  const per = c * h * w;
  const x = new Float32Array(index.length * per);
  const src = set.images;
  const scale = src instanceof Uint8Array ? 1 / 255 : 1;
  for (let b = 0; b < index.length; b++) {
    const s0 = index[b]! * per;
    const d0 = b * per;
    if (scale === 1) x.set((src as Float32Array).subarray(s0, s0 + per), d0);
    else for (let k = 0; k < per; k++) x[d0 + k] = src[s0 + k]! * scale;
  }
  const out: { x: Float32Array; y?: Int32Array } = { x };
  if (set.labels) out.y = Int32Array.from(index, (i) => set.labels![i]!);
  return out;
}

/** Host-mode batches; iterate it once per epoch (call `setEpoch` to reshuffle). */
export class BatchIterator implements Iterable<Batch> {
  private readonly base: Int32Array;
  private epoch: number;

  constructor(readonly set: ImageSet, readonly opts: BatchOptions, private readonly engine: EngineLike) {
    this.base = checkOptions(set, opts);
    this.epoch = opts.epoch ?? 0;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.base.length, b = this.opts.batchSize;
    return this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  setEpoch(e: number): void {
    this.epoch = e;
  }

  *[Symbol.iterator](): Iterator<Batch> {
    const { batchSize, shuffle = false, seed = 0, dropLast = false, device, dequantize = false } = this.opts;
    const order = epochOrder(this.base, shuffle, seed, this.epoch);
    const gen = dequantize ? TorchGenerator.cpu(dequantizeSeed(seed, this.epoch)) : undefined;
    const [, c, h, w] = this.set.shape;
    for (let start = 0; start < order.length; start += batchSize) {
      const index = order.subarray(start, Math.min(start + batchSize, order.length));
      if (dropLast && index.length < batchSize) break;
      const g = gatherBatch(this.set, index);
      let x = this.engine.fromTypedArray(g.x, [index.length, c, h, w], device ? { device } : {}); // (B, C, H, W)
      if (gen) {
        const plain = x as Tensor;
        x = dequantizeTensor(plain, gen);
        plain.dispose();
      }
      const batch: Batch = { x, index: index.slice() };
      if (g.y) batch.y = this.engine.fromTypedArray(g.y, [index.length], { ...(device ? { device } : {}), dtype: 'int64' });
      yield batch;
    }
  }
}

/** Host-mode batches, loading the engine first. */
export async function* batches(set: ImageSet, opts: BatchOptions): AsyncGenerator<Batch> {
  const engine = await loadEngine();
  yield* new BatchIterator(set, opts, engine);
}

/** Bytes the set takes on the device in resident mode. */
export function residentBytes(set: ImageSet): number {
  return set.images.byteLength + (set.labels ? set.labels.length * 8 : 0);
}

/** The whole set uploaded once; batches gathered on the device. Call dispose() when done. */
export class DeviceDataset {
  readonly x: TensorLike;
  readonly y?: TensorLike;
  private readonly isU8: boolean;

  constructor(readonly set: ImageSet, readonly device: string, private readonly engine: EngineLike) {
    this.isU8 = set.images instanceof Uint8Array;
    this.x = engine.fromTypedArray(set.images, [...set.shape], { device });
    if (set.labels) this.y = engine.fromTypedArray(set.labels, [set.labels.length], { device, dtype: 'int64' });
  }

  static async create(set: ImageSet, device: string): Promise<DeviceDataset> {
    return new DeviceDataset(set, device, await loadEngine());
  }

  *batches(opts: Omit<BatchOptions, 'device'>): Generator<Batch> {
    const base = checkOptions(this.set, opts);
    const { batchSize, shuffle = false, seed = 0, dropLast = false, dequantize = false, epoch = 0 } = opts;
    const order = epochOrder(base, shuffle, seed, epoch);
    const gen = dequantize ? TorchGenerator.cpu(dequantizeSeed(seed, epoch)) : undefined;
    const e = this.engine;
    for (let start = 0; start < order.length; start += batchSize) {
      const index = order.slice(start, Math.min(start + batchSize, order.length));
      if (dropLast && index.length < batchSize) break;
      const idx = e.fromTypedArray(index, [index.length], { device: this.device, dtype: 'int64' });
      const raw = e.indexSelect(this.x, 0, idx);
      const f = raw.float();
      raw.dispose();
      let x: TensorLike = this.isU8 ? f.div(255) : f;
      if (x !== f) f.dispose();
      if (gen) {
        const plain = x as Tensor;
        x = dequantizeTensor(plain, gen);
        plain.dispose();
      }
      const batch: Batch = { x, index };
      if (this.y) batch.y = e.indexSelect(this.y, 0, idx);
      idx.dispose();
      yield batch;
    }
  }

  dispose(): void {
    this.x.dispose();
    this.y?.dispose();
  }
}

/**
 * The trainer's device-resident training set: the images uploaded to `device` once (uint8 stays uint8, 4x smaller)
 * and each batch gathered there with index_select, so only the index crosses the bus per step. batch(index) is
 * exactly imageBatch(set, index, device): uint8 values are scaled through a 256-entry table computed with the
 * host's own formula (v * (1/255) in double, rounded to float32), not by a device division that could round
 * differently, so on the CPU both paths give bit-identical batches (tested) and hence identical runs.
 */
export class ResidentImages {
  private readonly images: Tensor;
  private readonly lut: Tensor | null;
  private readonly shape: [number, number, number, number];

  constructor(set: Pick<ImageSet, 'images' | 'shape' | 'name'>, readonly device: string) {
    const [n, c, h, w] = set.shape;
    this.shape = [n, c, h, w];
    if (set.images.length !== n * c * h * w) {
      throw new OodgenError(`${set.name ?? 'images'}: ${set.images.length} values for shape [${set.shape.join(', ')}]`);
    }
    this.images = fromTypedArray(set.images, [n, c, h, w], { device }); // (N, C, H, W)
    this.lut = set.images instanceof Uint8Array
      ? fromTypedArray(Float32Array.from({ length: 256 }, (_, v) => v * (1 / 255)), [256], { device })
      : null;
  }

  /** Bytes held on the device. */
  get bytes(): number {
    return this.images.numel * (this.lut ? 1 : 4);
  }

  /** Images index[...] as (B, C, H, W) float32 in [0, 1] on the device. */
  batch(index: Int32Array): Tensor {
    const n = this.shape[0];
    for (const i of index) if (!(i >= 0 && i < n)) throw new OodgenError(`resident images: batch index ${i} outside 0..${n - 1}`);
    const idx = fromTypedArray(index, [index.length], { device: this.device, dtype: 'int64' });
    const raw = indexSelect(this.images, 0, idx); // (B, C, H, W)
    idx.dispose();
    if (!this.lut) return raw;
    const levels = toDtype(raw, 'int64');
    raw.dispose();
    const x = call('aten::take', this.lut, levels); // (B, C, H, W): the index's shape
    levels.dispose();
    return x;
  }

  dispose(): void {
    this.images.dispose();
    this.lut?.dispose();
  }
}
