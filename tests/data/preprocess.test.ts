import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, permutation } from '../../src/data/rng.js';
import { dequantize, resizeCenterCrop, strideIndices, subset, toChannels, trainValSplit } from '../../src/data/preprocess.js';
import { syntheticSet } from '../../src/data/synthetic.js';
import type { ImageSet } from '../../src/data/types.js';

const set = (images: Uint8Array | Float32Array, shape: [number, number, number, number]): ImageSet => ({ images, shape, name: 't', source: 't' });

test('rng: reproducible, uniform-looking, permutations are permutations', () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const xs = Array.from({ length: 5 }, () => a.nextU32());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.nextU32()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.nextU32()));
  const r = new Rng(1);
  let s = 0, s2 = 0;
  for (let i = 0; i < 20000; i++) { const v = r.normal(); s += v; s2 += v * v; }
  assert.ok(Math.abs(s / 20000) < 0.05 && Math.abs(s2 / 20000 - 1) < 0.05);
  const p = permutation(1000, new Rng(3));
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
});

test('resize: same size scales only; constant stays constant; 2x downscale is the PIL antialias kernel', () => {
  const u = Uint8Array.from({ length: 16 }, (_, i) => i * 10);
  const same = resizeCenterCrop(set(u, [1, 1, 4, 4]), 4);
  assert.ok(same.images instanceof Float32Array);
  assert.ok(Math.abs(same.images[5]! - 50 / 255) < 1e-7);
  const k = resizeCenterCrop(set(new Uint8Array(28 * 28).fill(200), [1, 1, 28, 28]), 32);
  assert.deepEqual(k.shape, [1, 1, 32, 32]);
  assert.ok(k.images.every((v) => Math.abs(v - 200 / 255) < 1e-6));
  // A row ramp 0..7 halved to 4 columns: weights [1/8, 3/8, 3/8, 1/8] around each pair, renormalized at the edges.
  const ramp = Float32Array.from({ length: 8 * 8 }, (_, i) => (i % 8) / 10);
  const half = resizeCenterCrop(set(ramp, [1, 1, 8, 8]), 4).images;
  const expect = [(0 * 3 + 1 * 3 + 2 * 1) / 7 / 10, (1 + 2 * 3 + 3 * 3 + 4) / 8 / 10, (3 + 4 * 3 + 5 * 3 + 6) / 8 / 10, (5 + 6 * 3 + 7 * 3) / 7 / 10];
  for (let j = 0; j < 4; j++) assert.ok(Math.abs(half[j]! - expect[j]!) < 1e-6, `col ${j}: ${half[j]} vs ${expect[j]}`);
  // 28 -> 32 upsampling stays within [0,1] and keeps the mean of a smooth image.
  const img = Uint8Array.from({ length: 28 * 28 }, (_, i) => ((i % 28) * 9) & 0xff);
  const up = resizeCenterCrop(set(img, [1, 1, 28, 28]), 32).images;
  assert.ok(up.every((v) => v >= 0 && v <= 1));
});

test('resize: non-square images are center-cropped after the shorter side is resized', () => {
  // 40 rows x 32 cols to 32: no scaling, rows 4..35 kept.
  const img = Float32Array.from({ length: 40 * 32 }, (_, i) => Math.floor(i / 32) / 40);
  const out = resizeCenterCrop(set(img, [1, 1, 40, 32]), 32).images;
  for (let r = 0; r < 32; r++) assert.ok(Math.abs(out[r * 32]! - (r + 4) / 40) < 1e-6);
});

test('channels: gray -> RGB copies, RGB -> gray is BT.601 luma', () => {
  const g = toChannels(set(Uint8Array.from([10, 20]), [1, 1, 1, 2]), 3);
  assert.deepEqual(g.shape, [1, 3, 1, 2]);
  assert.deepEqual([...g.images], [10, 20, 10, 20, 10, 20]);
  const rgb = toChannels(set(Float32Array.from([1, 0, 0, 1, 0, 0]), [1, 3, 1, 2]), 1);
  assert.ok(Math.abs(rgb.images[0]! - 0.299) < 1e-6 && Math.abs(rgb.images[1]! - 0.587) < 1e-6);
});

test('dequantize: (x*255 + u)/256 stays in the bin [k/256, (k+1)/256) and in [0,1)', () => {
  const x = Float32Array.from({ length: 256 * 20 }, (_, i) => (i % 256) / 255);
  const levels = x.map((v) => Math.round(v * 255));
  dequantize(x, new Rng(5));
  for (let i = 0; i < x.length; i++) {
    assert.ok(x[i]! >= levels[i]! / 256 - 1e-6 && x[i]! < (levels[i]! + 1) / 256 + 1e-6);
    assert.ok(x[i]! >= 0 && x[i]! < 1);
  }
});

test('train/val split: seeded, disjoint, complete; subset and strided limit', () => {
  const a = trainValSplit(100, 0.1, 7), b = trainValSplit(100, 0.1, 7), c = trainValSplit(100, 0.1, 8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.val, c.val);
  assert.equal(a.val.length, 10);
  assert.deepEqual([...a.train, ...a.val].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual([...strideIndices(10, 5)], [0, 2, 4, 6, 8]);
  const s = subset({ ...set(Uint8Array.from([1, 2, 3]), [3, 1, 1, 1]), labels: Int32Array.from([7, 8, 9]) }, [2, 0]);
  assert.deepEqual([...s.images], [3, 1]);
  assert.deepEqual([...s.labels!], [9, 7]);
});

test('synthetic sets: seeded, right shape, constant images are constant', () => {
  const a = syntheticSet('noise', 4, 3, 8, 1), b = syntheticSet('noise', 4, 3, 8, 1);
  assert.deepEqual(a.shape, [4, 3, 8, 8]);
  assert.deepEqual(a.images, b.images);
  const c = syntheticSet('constant', 3, 1, 5, 0);
  for (let i = 0; i < 3; i++) assert.equal(new Set(c.images.subarray(i * 25, (i + 1) * 25)).size, 1);
  const g = syntheticSet('gaussian-noise', 20, 1, 16, 0);
  let sum = 0;
  for (const v of g.images) sum += v;
  const mean = sum / g.images.length;
  assert.ok(Math.abs(mean - 127.5) < 5);
});
