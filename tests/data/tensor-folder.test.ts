// The tensor-folder source: a named dataset stored as `<split>.safetensors` files (how scripts/gpu/prepare.sh carries
// Fashion-MNIST and CelebA to a GPU machine). The oracle is the original source: the same images through the IDX
// reader, and the closed form x/255 for images already at the final size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadDataset } from '../../src/data/registry.js';
import { detectDir } from '../../src/data/sources.js';
import { loadIdxPair } from '../../src/data/idx.js';
import { saveSafetensorsImages } from '../../src/data/safetensors-images.js';
import { fromTypedArray, writeSafetensors } from '../../src/io/safetensors.js';
import { assertBadFile, pattern, put, tempDir, writeIdxPair } from './helpers.js';

test('tensor folder: fashion-mnist:train from train.safetensors loads exactly as from the IDX files', async (t) => {
  const idxRoot = tempDir(t);
  const packed = tempDir(t);
  const { imagesPath, labelsPath } = writeIdxPair(join(idxRoot, 'fashion-mnist'), 'train', 12);
  const raw = loadIdxPair(imagesPath, labelsPath, 'x'); // uint8 28x28, as pack-data.ts writes it
  put(join(packed, 'fashion-mnist', '.keep'), '');
  saveSafetensorsImages(join(packed, 'fashion-mnist', 'train.safetensors'), raw);
  assert.equal(detectDir(join(packed, 'fashion-mnist')), 'tensors');
  const a = await loadDataset('fashion-mnist:train', { root: idxRoot });
  const b = await loadDataset('fashion-mnist:train', { root: packed });
  assert.deepEqual(b.set.shape, [12, 1, 32, 32]);
  assert.deepEqual(b.set.shape, a.set.shape);
  // Bit-identical float32 after the 28 -> 32 resize: the trainer sees the same batches either way.
  assert.deepEqual(Buffer.from(b.set.images.buffer), Buffer.from(a.set.images.buffer));
  assert.deepEqual([...b.set.labels!], [...a.set.labels!]);
  assert.equal(b.preprocessing.format, 'safetensors (split folder)');
  assert.equal(b.preprocessing.native.height, 28);
  assert.equal(b.preprocessing.resize, a.preprocessing.resize);
  const lim = await loadDataset('fashion-mnist', { root: packed, limit: 4 });
  assert.deepEqual(lim.set.shape, [4, 1, 32, 32]);
});

test('tensor folder: celeba splits at the final size are x/255, and a missing split names what is there', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'celeba');
  const train = pattern(3, 3 * 32 * 32, 1);
  const testImgs = pattern(2, 3 * 32 * 32, 2);
  put(join(dir, '.keep'), '');
  saveSafetensorsImages(join(dir, 'train.safetensors'), { images: train, shape: [3, 3, 32, 32], name: 'c', source: '' });
  saveSafetensorsImages(join(dir, 'test.safetensors'), { images: testImgs, shape: [2, 3, 32, 32], name: 'c', source: '' });
  const tr = await loadDataset('celeba:train', { root });
  assert.deepEqual(tr.set.shape, [3, 3, 32, 32]);
  assert.equal(tr.preprocessing.resize, 'none');
  // Closed form: each value v becomes float32(v * (1/255)).
  assert.deepEqual([...tr.set.images], Array.from(train, (v) => Math.fround(v * (1 / 255))));
  const te = await loadDataset('celeba:test', { root });
  assert.deepEqual([...te.set.images], Array.from(testImgs, (v) => Math.fround(v * (1 / 255))));
  await assert.rejects(loadDataset('celeba:valid', { root }), (e: Error) => e.message.includes('celeba:valid not found') && e.message.includes('has train, test'));
  // The folder is also a dataset path.
  const p = await loadDataset(`${dir}:test`);
  assert.deepEqual(p.set.shape, [2, 3, 32, 32]);
});

test('tensor folder: a broken split file is an OodgenError naming the file', async (t) => {
  const root = tempDir(t);
  const f = join(root, 'celeba', 'train.safetensors');
  put(f, '');
  writeSafetensors(f, { pixels: fromTypedArray(new Uint8Array(4), [4]) });
  await assertBadFile(() => loadDataset('celeba:train', { root }), f, /no "images" tensor/);
});
