import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { listDatasets, loadDataset, parseSpec } from '../../src/data/registry.js';
import { inspectTarget, formatInspect } from '../../src/data/inspect.js';
import { OodgenError } from '../../src/errors.js';
import { assertBadFile, put, svhnFile, tempDir, writeIdxPair } from './helpers.js';

test('spec parsing: names, aliases, splits, counts, paths', () => {
  assert.deepEqual(parseSpec('fashion-mnist:test'), { name: 'fashion-mnist', split: 'test' });
  assert.deepEqual(parseSpec('FMNIST'), { name: 'fashion-mnist' });
  assert.deepEqual(parseSpec('normal-noise:500'), { name: 'gaussian-noise', split: '500' });
  assert.deepEqual(parseSpec('./x.safetensors'), { name: './x.safetensors', path: './x.safetensors' });
  assert.throws(() => parseSpec('imagenet'), OodgenError);
  assert.throws(() => parseSpec('a:b:c'), OodgenError);
});

test('loadDataset: a root with IDX and SVHN, sizes, channels and the preprocessing record', async (t) => {
  const root = tempDir(t);
  writeIdxPair(join(root, 'mnist'), 'train', 20);
  writeIdxPair(join(root, 'mnist'), 't10k', 10);
  put(join(root, 'svhn', 'test_32x32.mat'), svhnFile(6, true).bytes);
  const a = await loadDataset('mnist:test', { root });
  assert.deepEqual(a.set.shape, [10, 1, 32, 32]);
  assert.ok(a.set.images instanceof Float32Array);
  assert.equal(a.preprocessing.native.height, 28);
  assert.equal(a.preprocessing.format, 'IDX (gzip)');
  assert.equal(a.set.labels!.length, 10);
  JSON.parse(JSON.stringify(a.preprocessing));
  const b = await loadDataset('mnist', { root, imageSize: 28, channels: 3, limit: 5 });
  assert.deepEqual(b.set.shape, [5, 3, 28, 28]);
  assert.equal(b.preprocessing.resize, 'none');
  assert.equal(b.preprocessing.channels.method, 'gray replicated to RGB');
  const s = await loadDataset('svhn:test', { root, channels: 1 });
  assert.deepEqual(s.set.shape, [6, 1, 32, 32]);
  assert.match(s.preprocessing.channels.method, /luma/);
  const p = await loadDataset(join(root, 'svhn', 'test_32x32.mat'));
  assert.deepEqual(p.set.shape, [6, 3, 32, 32]);
  const n = await loadDataset('noise:50', { channels: 1, imageSize: 28 });
  assert.deepEqual(n.set.shape, [50, 1, 28, 28]);
  assert.ok(n.set.images.every((v) => v >= 0 && v <= 1));
  await assert.rejects(loadDataset('svhn:train', { root }), (e: Error) => e instanceof OodgenError && /svhn:train not found/.test(e.message) && /data fetch svhn/.test(e.message));
  await assert.rejects(loadDataset('noise:abc'), OodgenError);
  const listed = await listDatasets({ root });
  const m = listed.find((r) => r.spec === 'mnist:train')!;
  assert.equal(m.count, 20);
  assert.deepEqual(m.shape, [1, 28, 28]);
  assert.equal(listed.find((r) => r.spec === 'svhn:test')!.count, 6);
  assert.equal(listed.find((r) => r.spec === 'cifar10')!.available, false);
});

test('inspect: reports each split of a folder; corrupt files fail naming the file', async (t) => {
  const root = tempDir(t);
  const w = writeIdxPair(join(root, 'fm'), 'train', 12, 28, 28);
  writeIdxPair(join(root, 'fm'), 't10k', 3, 28, 28);
  const r = await inspectTarget(join(root, 'fm'));
  assert.deepEqual(r.splits.map((s) => [s.split, s.count, s.shape.join('x'), s.dtype]), [['train', 12, '1x28x28', 'uint8'], ['test', 3, '1x28x28', 'uint8']]);
  assert.match(formatInspect(r), /train: 12 images of 28x28x1 uint8/);
  put(w.labelsPath, Buffer.from('broken'));
  await assertBadFile(() => inspectTarget(join(root, 'fm')), w.labelsPath, /gzip data is corrupt|wrong magic/);
});

const FMNIST = '/usr/share/datasets/fashion-mnist';
test('inspect: the real Fashion-MNIST (Debian dataset-fashion-mnist) is 60000 + 10000 of 28x28x1', { skip: !existsSync(FMNIST) && `${FMNIST} not installed` }, async () => {
  const r = await inspectTarget(FMNIST);
  assert.deepEqual(r.splits.map((s) => [s.split, s.count, s.shape.join('x'), s.labels?.count]), [['train', 60000, '1x28x28', 60000], ['test', 10000, '1x28x28', 10000]]);
});
