import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BatchIterator, DeviceDataset, dequantizeSeed, dequantizeTensor, epochOrder, gatherBatch, imageBatch, loadEngine, type EngineLike } from '../../src/data/batches.js';
import type { ImageSet } from '../../src/data/types.js';

const ENGINE = fileURLToPath(new URL('../../src/engine/index.ts', import.meta.url));
const noEngine = existsSync(ENGINE) ? false : `src/engine/index.ts is missing: engine-backed batch tests skipped until the engine lands`;

const set: ImageSet = {
  images: Uint8Array.from({ length: 10 * 2 * 2 }, (_, i) => Math.floor(i / 4) * 20),
  shape: [10, 1, 2, 2],
  labels: Int32Array.from({ length: 10 }, (_, i) => i),
  name: 't',
  source: 't',
};

test('host batching: order, scaling, labels, dropLast, seeded shuffle, dequantization bins', () => {
  const g = gatherBatch(set, Int32Array.from([3, 1]));
  assert.deepEqual([...g.x].map((v) => Math.round(v * 255)), [60, 60, 60, 60, 20, 20, 20, 20]);
  assert.deepEqual([...g.y!], [3, 1]);
  const base = Int32Array.from({ length: 10 }, (_, i) => i);
  const o1 = epochOrder(base, true, 5, 0), o2 = epochOrder(base, true, 5, 0), o3 = epochOrder(base, true, 5, 1);
  assert.deepEqual(o1, o2);
  assert.notDeepEqual(o1, o3);
  assert.deepEqual([...o1].sort((a, b) => a - b), [...base]);
  // A pure-JS stand-in for the engine checks the iterator's bookkeeping without libtorch.
  const made: { data: ArrayBufferView; shape: number[]; opts?: object }[] = [];
  const fake = { fromTypedArray(data: ArrayBufferView, shape: number[], opts?: object) { made.push({ data, shape, opts }); return { shape } as never; }, indexSelect() { throw new Error('unused'); } } as EngineLike;
  const it = new BatchIterator(set, { batchSize: 4, dropLast: true, device: 'cuda', indices: Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8]) }, fake);
  const bs = [...it];
  assert.equal(it.length, 2);
  assert.equal(bs.length, 2);
  assert.deepEqual([...bs[1]!.index], [4, 5, 6, 7]);
  assert.deepEqual(made[0]!.shape, [4, 1, 2, 2]);
  assert.deepEqual(made[0]!.opts, { device: 'cuda' });
  assert.deepEqual(made[1]!.opts, { device: 'cuda', dtype: 'int64' });
  assert.throws(() => new BatchIterator(set, { batchSize: 0 }, fake));
});

test('engine batches: host iterator and device-resident set give the same tensors', { skip: noEngine }, async () => {
  const e = await loadEngine();
  type T = { toFloat32Array(): Float32Array; toArray(): number[]; dispose(): void; shape: number[] };
  const host = [...new BatchIterator(set, { batchSize: 4, shuffle: true, seed: 3 }, e)];
  const dev = new DeviceDataset(set, 'cpu', e);
  const res = [...dev.batches({ batchSize: 4, shuffle: true, seed: 3 })];
  assert.equal(host.length, 3);
  assert.equal(res.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual([...host[i]!.index], [...res[i]!.index]);
    const a = (host[i]!.x as unknown as T).toFloat32Array(), b = (res[i]!.x as unknown as T).toFloat32Array();
    assert.equal(a.length, b.length);
    for (let k = 0; k < a.length; k++) assert.ok(Math.abs(a[k]! - b[k]!) < 1e-6);
    assert.deepEqual((res[i]!.y as unknown as T).toArray().map(Number), [...res[i]!.index]);
    for (const t of [host[i]!.x, host[i]!.y, res[i]!.x, res[i]!.y]) t?.dispose();
  }
  const dq = [...dev.batches({ batchSize: 10, dequantize: true, seed: 1 })][0]!;
  const x = (dq.x as unknown as T).toFloat32Array();
  for (let k = 0; k < x.length; k++) {
    const level = set.images[k]!;
    assert.ok(x[k]! >= level / 256 - 1e-6 && x[k]! < (level + 1) / 256 + 1e-6);
  }
  dq.x.dispose();
  dq.y?.dispose();
  dev.dispose();
});

test('dequantization: both iterators draw the trainer\'s noise (engine Generator, dequantizeTensor), in its bins', { skip: noEngine }, async () => {
  const { Generator, liveTensors } = await import('../../src/engine/index.js');
  const e = await loadEngine();
  type T = { toFloat32Array(): Float32Array; dispose(): void };
  const base = liveTensors();
  const opts = { batchSize: 4, shuffle: true, seed: 7, dequantize: true, epoch: 2 };
  const host = [...new BatchIterator(set, opts, e)];
  const dev = new DeviceDataset(set, 'cpu', e);
  const res = [...dev.batches(opts)];
  // The trainer's path: imageBatch, then dequantizeTensor with one Generator streaming over the epoch's batches.
  const gen = Generator.cpu(dequantizeSeed(7, 2));
  assert.equal(host.length, 3);
  for (let i = 0; i < 3; i++) {
    const plain = imageBatch(set, host[i]!.index);
    const want = dequantizeTensor(plain, gen);
    const w = want.toFloat32Array();
    plain.dispose();
    want.dispose();
    const a = (host[i]!.x as unknown as T).toFloat32Array(), b = (res[i]!.x as unknown as T).toFloat32Array();
    assert.deepEqual([...res[i]!.index], [...host[i]!.index]);
    for (let k = 0; k < w.length; k++) {
      assert.ok(Math.abs(a[k]! - w[k]!) < 1e-7 && Math.abs(b[k]! - w[k]!) < 1e-7, `batch ${i} value ${k}`);
      const level = set.images[host[i]!.index[Math.floor(k / 4)]! * 4 + (k % 4)]!;
      assert.ok(a[k]! >= level / 256 && a[k]! < (level + 1) / 256, `${a[k]} outside bin ${level}`);
    }
    // Noise, not a constant offset: values inside one batch differ from the bin's left edge by different amounts.
    assert.ok(new Set(a.map((v, k) => Math.round(v * 256 * 1e4))).size > 4);
    for (const t of [host[i]!.x, host[i]!.y, res[i]!.x, res[i]!.y]) t?.dispose();
  }
  dev.dispose();
  assert.equal(liveTensors(), base);
});
