import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { loadIdxPair, readIdx, readIdxHeader } from '../../src/data/idx.js';
import { assertBadFile, idxBytes, pattern, put, tempDir, writeIdxPair } from './helpers.js';

test('IDX: gzip and raw files read back exactly, labels included', (t) => {
  const d = tempDir(t);
  for (const gz of [true, false]) {
    const sub = join(d, gz ? 'gz' : 'raw');
    const w = writeIdxPair(sub, 'train', 7, 28, 28, gz);
    const set = loadIdxPair(w.imagesPath, w.labelsPath, 'x');
    assert.deepEqual(set.shape, [7, 1, 28, 28]);
    assert.deepEqual([...set.images], [...w.images]);
    assert.deepEqual([...set.labels!], [...w.labels]);
    assert.deepEqual(readIdxHeader(w.imagesPath).dims, [7, 28, 28]);
  }
});

test('IDX: every corrupted variant is an OodgenError naming the file', async (t) => {
  const d = tempDir(t);
  const good = idxBytes([5, 4, 4], pattern(5, 16));
  const goodLabels = idxBytes([5], new Uint8Array(5));
  const cases: [string, Uint8Array, RegExp][] = [
    ['truncated', good.subarray(0, good.length - 10), /truncated/],
    ['truncated.gz', gzipSync(good.subarray(0, good.length - 10)), /truncated/],
    ['cut-gzip.gz', gzipSync(good).subarray(0, 30), /gzip data is corrupt or truncated/],
    ['wrong-magic', Buffer.concat([Buffer.from([0x12, 0x34, 0x08, 0x03]), good.subarray(4)]), /wrong magic/],
    ['trailing', Buffer.concat([good, Buffer.alloc(3)]), /unexpected bytes/],
    ['empty', new Uint8Array(0), /too short/],
    ['header-cut', good.subarray(0, 9), /truncated inside the header/],
    ['int32', idxBytes([5], new Uint8Array(20), 0x0c), /only uint8/],
  ];
  for (const [name, bytes, re] of cases) {
    const p = put(join(d, name), bytes);
    await assertBadFile(() => loadIdxPair(p, undefined, 'x'), p, re);
  }
  const img = put(join(d, 'img'), good);
  const lab = put(join(d, 'lab'), idxBytes([6], new Uint8Array(6)));
  await assertBadFile(() => loadIdxPair(img, lab, 'x'), lab, /count mismatch: .* 5 images but .* 6 labels/);
  const lab2 = put(join(d, 'lab2'), goodLabels);
  await assertBadFile(() => loadIdxPair(lab2, undefined, 'x'), lab2, /rank 1/);
  await assertBadFile(() => readIdx(join(d, 'missing.gz')), join(d, 'missing.gz'), /no such file/);
  assert.equal(loadIdxPair(img, lab2, 'x').shape[0], 5);
  void readFileSync;
});
