// The benchmark cache keys data by content: a data folder copied elsewhere or re-provisioned with new mtimes keeps
// every cached unit; one changed byte invalidates it. (../shared/data here is re-copied at the start of each session;
// keyed by path, size and mtime, the whole cache was thrown away every time.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchCache, hashSource, TIMING_FORMAT } from '../../src/benchmark/cache.js';
import { dataIdentity } from '../../src/benchmark/pairs.js';
import { tempDir } from '../helpers/tmp.js';
import { writeIdxPair } from '../data/helpers.js';

const dir = tempDir('bench-cache');
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('hashSource: a folder tree by its relative paths and bytes, not its location or mtimes', () => {
  const a = join(dir, 'a');
  mkdirSync(join(a, 'cat'), { recursive: true });
  mkdirSync(join(a, 'dog'), { recursive: true });
  writeFileSync(join(a, 'cat', '1.png'), Buffer.from([1, 2, 3]));
  writeFileSync(join(a, 'dog', '1.png'), Buffer.from([4, 5]));
  const h = hashSource(a);
  assert.match(h, /^[0-9a-f]{64}$/);
  const b = join(dir, 'b');
  cpSync(a, b, { recursive: true });
  utimesSync(join(b, 'cat', '1.png'), new Date(2001, 1, 1), new Date(2001, 1, 1));
  assert.equal(hashSource(b), h, 'copied, older mtime, same bytes: same identity');
  writeFileSync(join(b, 'dog', '1.png'), Buffer.from([4, 6])); // same size, one byte changed
  assert.notEqual(hashSource(b), h);
  // A file moved to another class folder is another dataset (labels), though the bytes are the same.
  const c = join(dir, 'c');
  cpSync(a, c, { recursive: true });
  rmSync(join(c, 'dog'), { recursive: true });
  writeFileSync(join(c, 'cat', '2.png'), Buffer.from([4, 5]));
  assert.notEqual(hashSource(c), h);
  // A file: its bytes.
  assert.equal(hashSource(join(a, 'cat', '1.png')), '039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81');
});

test('dataIdentity of a dataset file does not change when the file is re-copied with a new mtime', () => {
  const d1 = join(dir, 'd1', 'mnist');
  const d2 = join(dir, 'd2', 'mnist');
  writeIdxPair(d1, 't10k', 5, 28, 28);
  cpSync(d1, d2, { recursive: true });
  for (const f of ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) utimesSync(join(d2, f), new Date(2003, 1, 1), new Date(2003, 1, 1));
  const prev = process.env.OODGEN_DATA;
  try {
    process.env.OODGEN_DATA = join(dir, 'd1');
    const r1 = dataIdentity('mnist:test');
    process.env.OODGEN_DATA = join(dir, 'd2');
    const r2 = dataIdentity('mnist:test');
    assert.ok(r1.ok && r2.ok, JSON.stringify([r1, r2]));
    assert.match((r1 as { source: string }).source, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(r2, r1);
  } finally {
    if (prev === undefined) delete process.env.OODGEN_DATA; else process.env.OODGEN_DATA = prev;
  }
});

test('dataIdentity of a folder dataset is its split\'s files: moving a CelebA image between splits changes it', () => {
  const root = join(dir, 'celeba-data');
  const img = join(root, 'celeba', 'img_align_celeba');
  mkdirSync(img, { recursive: true });
  for (let i = 1; i <= 4; i++) writeFileSync(join(img, `00000${i}.jpg`), Buffer.from([0xff, 0xd8, i]));
  const partition = join(root, 'celeba', 'partition.txt');
  writeFileSync(partition, '000001.jpg 0\n000002.jpg 0\n000003.jpg 2\n000004.jpg 2\n');
  const prev = process.env.OODGEN_DATA;
  try {
    process.env.OODGEN_DATA = root;
    const test1 = dataIdentity('celeba:test'), train1 = dataIdentity('celeba:train');
    assert.ok(test1.ok && train1.ok, JSON.stringify([test1, train1]));
    assert.notDeepEqual(test1, train1);
    writeFileSync(partition, '000001.jpg 0\n000002.jpg 2\n000003.jpg 2\n000004.jpg 2\n'); // same images, another split
    assert.notDeepEqual(dataIdentity('celeba:test'), test1);
    writeFileSync(partition, '000001.jpg 0\n000002.jpg 0\n000003.jpg 2\n000004.jpg 2\n');
    assert.deepEqual(dataIdentity('celeba:test'), test1, 'back to the first partition, back to the first identity');
  } finally {
    if (prev === undefined) delete process.env.OODGEN_DATA; else process.env.OODGEN_DATA = prev;
  }
});

test('BenchCache timings: a round trip apart from the units; a damaged, zero or other-format record reads as none', () => {
  const c = new BenchCache(join(dir, 'timing-cache'));
  const key = 'ab' + '0'.repeat(62);
  assert.equal(c.timing(key), null);
  c.putTiming(key, 12.5, 300);
  assert.deepEqual(c.timing(key), { format: TIMING_FORMAT, seconds: 12.5, images: 300 });
  assert.equal(c.has(key), false); // not a unit
  const file = join(dir, 'timing-cache', 'timings', 'ab', `${key}.json`);
  writeFileSync(file, '{"format":1,"seconds":12.5,');
  assert.equal(c.timing(key), null);
  writeFileSync(file, JSON.stringify({ format: TIMING_FORMAT + 1, seconds: 12.5, images: 300 }));
  assert.equal(c.timing(key), null);
  writeFileSync(file, JSON.stringify({ format: TIMING_FORMAT, seconds: 0, images: 300 }));
  assert.equal(c.timing(key), null);
  // A cache from before timings/ kept them among the units: still read there; a unit record under the key is not one.
  rmSync(file);
  const legacy = 'cd' + '1'.repeat(62);
  c.put(legacy, { format: TIMING_FORMAT, seconds: 7, images: 70 });
  assert.deepEqual(c.timing(legacy), { format: TIMING_FORMAT, seconds: 7, images: 70 });
  c.put(legacy, { key: legacy, format: TIMING_FORMAT, seconds: 7, images: 70 });
  assert.equal(c.timing(legacy), null);
});
