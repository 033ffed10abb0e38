import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadCifarBatches } from '../../src/data/cifar.js';
import { scanPath } from '../../src/data/sources.js';
import { readTar } from '../../src/data/tar.js';
import { assertBadFile, cifarBytes, put, tarBytes, tempDir } from './helpers.js';

test('CIFAR-10: batches folder, single batch and the tarball read back exactly', async (t) => {
  const d = tempDir(t);
  const dir = join(d, 'cifar-10-batches-bin');
  const batches = [1, 2, 3, 4, 5].map((i) => cifarBytes(3, i));
  batches.forEach((b, i) => put(join(dir, `data_batch_${i + 1}.bin`), b.bytes));
  const test_ = cifarBytes(4, 9);
  put(join(dir, 'test_batch.bin'), test_.bytes);
  const entries = scanPath(d);
  assert.deepEqual(entries.map((e) => e.split), ['train', 'test']);
  const train = await entries[0]!.load({});
  assert.deepEqual(train.shape, [15, 3, 32, 32]);
  assert.deepEqual([...train.labels!], batches.flatMap((b) => b.labels));
  assert.deepEqual([...train.images.subarray(3 * 3072, 4 * 3072)], [...batches[1]!.images.subarray(0, 3072)]);
  assert.deepEqual((await entries[1]!.info()).count, 4);
  const single = loadCifarBatches([join(dir, 'test_batch.bin')], 't');
  assert.deepEqual([...single.images], [...test_.images]);

  const tgz = put(join(d, 'cifar-10-binary.tar.gz'), gzipSync(tarBytes([
    ...batches.map((b, i) => ({ name: `cifar-10-batches-bin/data_batch_${i + 1}.bin`, data: b.bytes })),
    { name: 'cifar-10-batches-bin/test_batch.bin', data: test_.bytes },
  ])));
  const te = scanPath(tgz).find((e) => e.split === 'test')!;
  const fromTar = await te.load({});
  assert.deepEqual([...fromTar.images], [...test_.images]);
});

test('CIFAR-10: corrupted batches and archives are OodgenErrors naming the file', async (t) => {
  const d = tempDir(t);
  const good = cifarBytes(2).bytes;
  const trunc = put(join(d, 'trunc.bin'), good.subarray(0, good.length - 100));
  await assertBadFile(() => loadCifarBatches([trunc], 'x'), trunc, /not a multiple of 3073/);
  const bad = Uint8Array.from(good);
  bad[3073] = 77;
  const badLabel = put(join(d, 'label.bin'), bad);
  await assertBadFile(() => loadCifarBatches([badLabel], 'x'), badLabel, /record 1 has label 77/);
  const empty = put(join(d, 'empty.bin'), new Uint8Array(0));
  await assertBadFile(() => loadCifarBatches([empty], 'x'), empty, /empty/);
  const missing = join(d, 'nope.bin');
  await assertBadFile(() => loadCifarBatches([missing], 'x'), missing, /no such file/);
  // A batches folder missing one training batch.
  const dir = join(d, 'partial');
  for (const i of [1, 2, 4, 5]) put(join(dir, `data_batch_${i}.bin`), good);
  await assertBadFile(() => scanPath(dir), dir, /missing data_batch_3\.bin/);
  // Archives: truncated inside a member, and not-an-archive.
  const tar = tarBytes([{ name: 'test_batch.bin', data: good }]);
  const cut = put(join(d, 'cut.tar'), tar.subarray(0, 1000));
  await assertBadFile(() => readTar(tar.subarray(0, 1000), cut), cut, /truncated inside test_batch\.bin/);
  const junk = put(join(d, 'junk.tar.gz'), gzipSync(Buffer.alloc(2048, 0x41)));
  await assertBadFile(async () => (await scanPath(junk)[1]!.load({})), junk, /not a tar file/);
  const noBatch = put(join(d, 'other.tar'), tarBytes([{ name: 'readme.txt', data: new Uint8Array(3) }]));
  await assertBadFile(async () => (await scanPath(noBatch)[1]!.load({})), noBatch, /no test_batch\.bin inside/);
});
