// Dataset transforms (`+hflip`, `+vflip`) named after a dataset spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadDataset, parseSpec } from '../../src/data/registry.js';
import { applyTransforms, splitTransforms } from '../../src/data/transforms.js';
import { OodgenError } from '../../src/errors.js';
import { tempDir, writeIdxPair } from './helpers.js';

test('hflip reverses the width axis, vflip the height axis, per image and channel', () => {
  // Two images, two channels, 2x3: value = 100 n + 10 c + (3 y + x).
  const images = new Float32Array(2 * 2 * 2 * 3).map((_, i) => 100 * Math.floor(i / 12) + 10 * (Math.floor(i / 6) % 2) + (i % 6));
  const set = { images, shape: [2, 2, 2, 3] as [number, number, number, number], name: 's', source: 'mem' };
  const h = applyTransforms(set, ['hflip']);
  const v = applyTransforms(set, ['vflip']);
  const hv = applyTransforms(set, ['hflip', 'vflip']);
  for (let n = 0; n < 2; n++) for (let c = 0; c < 2; c++) for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) {
    const at = (yy: number, xx: number) => 100 * n + 10 * c + 3 * yy + xx;
    const i = ((n * 2 + c) * 2 + y) * 3 + x;
    assert.equal(h.images[i], at(y, 2 - x));
    assert.equal(v.images[i], at(1 - y, x));
    assert.equal(hv.images[i], at(1 - y, 2 - x));
  }
  assert.equal(h.name, 's+hflip');
  assert.equal(set.images[0], 0, 'input untouched');
  const u8 = applyTransforms({ ...set, images: Uint8Array.from(images) }, ['hflip']);
  assert.ok(u8.images instanceof Uint8Array);
});

test('specs: `+hflip` parses off, unknown transforms are named', () => {
  assert.deepEqual(splitTransforms('fashion-mnist:test+hflip'), { base: 'fashion-mnist:test', transforms: ['hflip'] });
  assert.deepEqual(splitTransforms('mnist+vflip+hflip'), { base: 'mnist', transforms: ['vflip', 'hflip'] });
  assert.deepEqual(parseSpec('fashion-mnist:test+vflip'), { name: 'fashion-mnist', split: 'test' });
  assert.throws(() => splitTransforms('mnist:test+rot90'), (e: Error) => e instanceof OodgenError && /\+rot90/.test(e.message) && /\+hflip/.test(e.message));
});

test('loadDataset applies the transform after preprocessing and records it', async (t) => {
  const root = tempDir(t);
  writeIdxPair(join(root, 'mnist'), 't10k', 4);
  const a = await loadDataset('mnist:test', { root, imageSize: 28 });
  const b = await loadDataset('mnist:test+hflip', { root, imageSize: 28 });
  assert.deepEqual(b.preprocessing.transforms, ['hflip']);
  assert.equal(b.set.name, 'mnist:test+hflip');
  let differs = false;
  for (let p = 0; p < 4; p++) for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
    const i = p * 784 + y * 28;
    assert.equal(b.set.images[i + x], a.set.images[i + 27 - x]);
    if (b.set.images[i + x] !== a.set.images[i + x]) differs = true;
  }
  assert.ok(differs, 'the test images are not all left-right symmetric');
});
