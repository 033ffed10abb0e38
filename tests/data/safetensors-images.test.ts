import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadSafetensorsImages, saveSafetensorsImages } from '../../src/data/safetensors-images.js';
import { fromTypedArray, writeSafetensors } from '../../src/io/safetensors.js';
import { assertBadFile, pattern, put, tempDir } from './helpers.js';

test('tensor file: uint8 and float32 images, N,H,W grayscale, int64 labels', (t) => {
  const d = tempDir(t);
  const u8 = pattern(3, 3 * 4 * 4);
  const p1 = join(d, 'u8.safetensors');
  saveSafetensorsImages(p1, { images: u8, shape: [3, 3, 4, 4], labels: Int32Array.from([5, 6, 7]), name: 'x', source: '' });
  const a = loadSafetensorsImages(p1, 'a');
  assert.deepEqual(a.shape, [3, 3, 4, 4]);
  assert.deepEqual([...a.images], [...u8]);
  assert.deepEqual([...a.labels!], [5, 6, 7]);
  const f = Float32Array.from({ length: 2 * 5 * 5 }, (_, i) => i / 49);
  const p2 = join(d, 'f.safetensors');
  writeSafetensors(p2, { images: fromTypedArray(f, [2, 5, 5]), labels: fromTypedArray(BigInt64Array.from([1n, 2n]), [2]) });
  const b = loadSafetensorsImages(p2, 'b');
  assert.deepEqual(b.shape, [2, 1, 5, 5]);
  assert.ok(b.images instanceof Float32Array);
  assert.deepEqual([...b.labels!], [1, 2]);
});

test('tensor file: broken or unsuitable files are OodgenErrors naming the file', async (t) => {
  const d = tempDir(t);
  const w = (name: string, tensors: Parameters<typeof writeSafetensors>[1]) => {
    const p = join(d, name);
    writeSafetensors(p, tensors);
    return p;
  };
  const noImages = w('noimg.safetensors', { pixels: fromTypedArray(new Uint8Array(4), [4]) });
  await assertBadFile(() => loadSafetensorsImages(noImages, 'x'), noImages, /no "images" tensor/);
  const range = w('range.safetensors', { images: fromTypedArray(Float32Array.from([0, 0.5, 1.5, 0]), [1, 1, 2, 2]) });
  await assertBadFile(() => loadSafetensorsImages(range, 'x'), range, /must lie in \[0, 1\]; element 2 is 1.5/);
  const nhwc = w('nhwc.safetensors', { images: fromTypedArray(new Uint8Array(2 * 4 * 4 * 3), [2, 4, 4, 3]) });
  await assertBadFile(() => loadSafetensorsImages(nhwc, 'x'), nhwc, /4 channels .* N,H,W,C/);
  const count = w('count.safetensors', { images: fromTypedArray(new Uint8Array(2 * 4), [2, 1, 2, 2]), labels: fromTypedArray(new Int32Array(3), [3]) });
  await assertBadFile(() => loadSafetensorsImages(count, 'x'), count, /count mismatch: 2 images but 3 labels/);
  const f64 = w('f64.safetensors', { images: fromTypedArray(new Float64Array(4), [1, 1, 2, 2]) });
  await assertBadFile(() => loadSafetensorsImages(f64, 'x'), f64, /dtype F64/);
  const good = readFileSync(count);
  const trunc = put(join(d, 'trunc.safetensors'), good.subarray(0, good.length - 5));
  await assertBadFile(() => loadSafetensorsImages(trunc, 'x'), trunc, /safetensors file/);
  const junk = put(join(d, 'junk.safetensors'), Buffer.from('not a safetensors file at all'));
  await assertBadFile(() => loadSafetensorsImages(junk, 'x'), junk, /safetensors file/);
});
