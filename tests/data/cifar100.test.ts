// CIFAR-100 binary (cifar-100-binary/{train,test}.bin): records of coarse label, fine label, 3072 CHW pixel bytes.
// Read back exactly (fine labels kept, pixels in CHW order on a pattern that differs under any transpose or channel
// swap), through a folder, a lone file, the tarball and `loadDataset('cifar100:test')`; the other CIFAR version's
// files are refused naming the file; `oodgen data fetch cifar100` unpacks a checked download.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CIFAR10, CIFAR100, CIFAR100_CLASSES, loadCifarBatches } from '../../src/data/cifar.js';
import { extractCifar, fetchDataset, fetchFile, REMOTE, unpackFetched } from '../../src/data/fetch.js';
import { loadDataset, listDatasets, parseSpec } from '../../src/data/registry.js';
import { detectDir, scanPath } from '../../src/data/sources.js';
import { OodgenError } from '../../src/errors.js';
import { formatInspect, inspectTarget, wrapList } from '../../src/data/inspect.js';
import { PY, runPython } from '../helpers/python.js';
import { assertBadFile, cifar100Bytes, cifarBytes, put, tarBytes, tempDir, writePng } from './helpers.js';

/** Pixel (c, y, x) of record i: the closed form the file is written from and the loader is checked against. */
const px = (i: number, c: number, y: number, x: number): number => (i * 53 + c * 90 + y * 7 + x * 3 + (y > x ? 1 : 0)) & 0xff;

/** Records written plane by plane from px(): R rows, then G, then B (the CIFAR binary layout), coarse then fine label. */
function records(fine: number[], coarse: number[]): Uint8Array {
  const b = new Uint8Array(fine.length * 3074);
  fine.forEach((f, i) => {
    b[i * 3074] = coarse[i]!;
    b[i * 3074 + 1] = f;
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) b[i * 3074 + 2 + c * 1024 + y * 32 + x] = px(i, c, y, x);
  });
  return b;
}

test('CIFAR-100: fine labels and CHW pixels read back exactly from a folder, a lone file and the tarball', async (t) => {
  const d = tempDir(t);
  const fine = [99, 0, 42, 7];
  const coarse = [19, 0, 5, 3];
  const testBin = put(join(d, 'cifar-100-binary', 'test.bin'), records(fine, coarse));
  const train = cifar100Bytes(6, 2);
  put(join(d, 'cifar-100-binary', 'train.bin'), train.bytes);
  assert.equal(detectDir(d), 'cifar100-bin');
  const entries = scanPath(d);
  assert.deepEqual(entries.map((e) => [e.split, e.format]), [['train', 'CIFAR-100 binary'], ['test', 'CIFAR-100 binary']]);
  assert.equal(entries[1]!.classes!.length, 100);
  assert.deepEqual(await entries[1]!.info(), { count: 4, shape: [3, 32, 32] });
  const set = await entries[1]!.load({});
  assert.deepEqual(set.shape, [4, 3, 32, 32]);
  assert.deepEqual([...set.labels!], fine, 'the fine label (second byte), not the coarse one');
  let wrong = 0;
  for (let i = 0; i < 4; i++) for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
    if (set.images[((i * 3 + c) * 32 + y) * 32 + x] !== px(i, c, y, x)) wrong++;
  }
  assert.equal(wrong, 0);
  // The pattern tells orders apart: HWC or a transposed plane would not match it.
  assert.notEqual(px(0, 0, 1, 2), px(0, 0, 2, 1));
  assert.notEqual(px(0, 0, 0, 1), px(0, 1, 0, 0));
  const tr = await entries[0]!.load({ limit: 3 });
  assert.deepEqual([...tr.labels!], [train.fine[0], train.fine[2], train.fine[4]]);
  assert.deepEqual([...tr.images.subarray(3072, 2 * 3072)], [...train.images.subarray(2 * 3072, 3 * 3072)]);

  // A lone test.bin given as a path, and the folder holding train.bin/test.bin directly.
  const lone = await scanPath(testBin)[0]!.load({});
  assert.deepEqual([...lone.images], [...set.images]);
  assert.deepEqual(scanPath(join(d, 'cifar-100-binary')).map((e) => e.split), ['train', 'test']);
  assert.deepEqual([...loadCifarBatches([testBin], 'x', CIFAR100).labels!], fine);

  // The archive as downloaded: members under cifar-100-binary/, the version told by the members.
  const tgz = put(join(d, 'c100.tar.gz'), gzipSync(tarBytes([
    { name: 'cifar-100-binary/fine_label_names.txt', data: new TextEncoder().encode(CIFAR100_CLASSES.join('\n')) },
    { name: 'cifar-100-binary/train.bin', data: train.bytes },
    { name: 'cifar-100-binary/test.bin', data: readFileSync(testBin) },
  ])));
  const fromTar = await scanPath(tgz).find((e) => e.split === 'test')!.load({});
  assert.deepEqual([...fromTar.images], [...set.images]);
  assert.deepEqual([...fromTar.labels!], fine);
  // Named like neither archive: told by its members once read, format and class names included.
  const anon = put(join(d, 'archive.tar.gz'), readFileSync(tgz));
  const e = scanPath(anon).find((x) => x.split === 'test')!;
  assert.equal(e.format, 'CIFAR-10 binary (tar.gz)');
  assert.deepEqual([...(await e.load({})).labels!], fine);
  assert.equal(e.format, 'CIFAR-100 binary (tar.gz)');
  assert.equal(e.classes!.length, 100);
});

test('CIFAR-100: the other version\'s files and out-of-range labels are OodgenErrors naming the file', async (t) => {
  const d = tempDir(t);
  // CIFAR-10 records (3073 bytes) named test.bin in a CIFAR-100 folder.
  const c10 = put(join(d, 'c100', 'cifar100', 'cifar-100-binary', 'test.bin'), cifarBytes(3).bytes);
  await assertBadFile(() => loadDataset('cifar100:test', { root: join(d, 'c100') }), c10, /not a multiple of 3074 .*3 records of 3073 bytes, the CIFAR-10 layout/);
  await assertBadFile(async () => (await scanPath(join(d, 'c100', 'cifar100'))[0]!.info()), c10, /not a multiple of 3074/);
  // CIFAR-100 records named test_batch.bin in a CIFAR-10 folder.
  const c100 = put(join(d, 'c10', 'cifar10', 'test_batch.bin'), cifar100Bytes(5).bytes);
  await assertBadFile(() => loadDataset('cifar10:test', { root: join(d, 'c10') }), c100, /not a multiple of 3073 .*5 records of 3074 bytes, the CIFAR-100 layout/);
  // Label bytes out of range: coarse 0-19, fine 0-99.
  const good = cifar100Bytes(3).bytes;
  const badFine = Uint8Array.from(good);
  badFine[3074 + 1] = 100;
  const f1 = put(join(d, 'fine.bin'), badFine);
  await assertBadFile(() => loadCifarBatches([f1], 'x', CIFAR100), f1, /record 1 has fine label 100, outside 0-99/);
  const badCoarse = Uint8Array.from(good);
  badCoarse[2 * 3074] = 20;
  const f2 = put(join(d, 'coarse.bin'), badCoarse);
  await assertBadFile(() => loadCifarBatches([f2], 'x', CIFAR100), f2, /record 2 has coarse label 20, outside 0-19/);
  const trunc = put(join(d, 'cut', 'test.bin'), good.subarray(0, 3074 + 100));
  await assertBadFile(() => scanPath(trunc)[0]!.load({}), trunc, /CIFAR-100 batch .*truncated after 1 records/);
  // A CIFAR-10 batches folder where cifar100 is looked for: what is there is said, not only "not found".
  put(join(d, 'c10b', 'cifar100', 'cifar-10-batches-bin', 'test_batch.bin'), cifarBytes(2).bytes);
  await assert.rejects(loadDataset('cifar100:test', { root: join(d, 'c10b') }),
    (e: Error) => e instanceof OodgenError && /cifar100:test not found/.test(e.message) && /holds CIFAR-10 binary batches, not a cifar100 layout/.test(e.message) && /oodgen data fetch cifar100/.test(e.message));
  // A CIFAR-10 archive where the CIFAR-100 one is expected.
  const c10tgz = put(join(d, 'c10.tar.gz'), gzipSync(tarBytes([{ name: 'cifar-10-batches-bin/test_batch.bin', data: cifarBytes(2).bytes }])));
  await assertBadFile(() => extractCifar(c10tgz, join(d, 'out'), CIFAR100), c10tgz, /expected 2 CIFAR-100 batches .*found 0; not the CIFAR-100 binary archive/);
  assert.ok(!existsSync(join(d, 'out', 'cifar-100-binary')), 'nothing unpacked from a wrong archive');
  const brokenTgz = put(join(d, 'broken.tar.gz'), gzipSync(tarBytes([
    { name: 'cifar-100-binary/train.bin', data: good }, { name: 'cifar-100-binary/test.bin', data: cifarBytes(2).bytes },
  ])));
  await assertBadFile(() => extractCifar(brokenTgz, join(d, 'out2'), CIFAR100), brokenTgz, /test\.bin has size 6146, not a multiple of the CIFAR-100 record \(3074 bytes\)/);
});

test('CIFAR-100: `cifar100` and `cifar-100` name the dataset; OODGEN_DATA/cifar100 resolves; listed with its counts', async (t) => {
  assert.deepEqual(parseSpec('cifar-100:test'), { name: 'cifar100', split: 'test' });
  const data = tempDir(t);
  const tst = cifar100Bytes(5, 1);
  put(join(data, 'cifar100', 'cifar-100-binary', 'test.bin'), tst.bytes);
  put(join(data, 'cifar100', 'cifar-100-binary', 'train.bin'), cifar100Bytes(7, 3).bytes);
  const prev = process.env.OODGEN_DATA;
  process.env.OODGEN_DATA = data;
  try {
    const r = await loadDataset('cifar100:test');
    assert.deepEqual(r.set.shape, [5, 3, 32, 32]);
    assert.equal(r.set.name, 'cifar100:test');
    assert.deepEqual([...r.set.labels!], tst.fine);
    assert.equal(r.preprocessing.format, 'CIFAR-100 binary');
    assert.equal(r.preprocessing.resize, 'none');
    // x/255 exactly, in CHW order.
    assert.ok(r.set.images.every((v, i) => Math.abs(v - tst.images[i]! / 255) < 1e-7));
    const alias = await loadDataset('cifar-100:train', { limit: 2 });
    assert.deepEqual(alias.set.shape, [2, 3, 32, 32]);
    const listed = await listDatasets();
    assert.deepEqual(listed.filter((x) => x.spec.startsWith('cifar100')).map((x) => [x.spec, x.count, x.format]),
      [['cifar100:train', 7, 'CIFAR-100 binary'], ['cifar100:test', 5, 'CIFAR-100 binary']]);
  } finally {
    if (prev === undefined) delete process.env.OODGEN_DATA; else process.env.OODGEN_DATA = prev;
  }
});

const numpySkip: string | false = existsSync(PY) && spawnSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0 ? false : `needs ${PY} with numpy`;

/** Random record bytes with every label byte in range (classes per label byte), from a small LCG. */
function randomRecords(n: number, classes: number[], seed: number): Uint8Array {
  const rec = classes.length + 3072;
  const b = new Uint8Array(n * rec);
  let x = seed >>> 0;
  for (let i = 0; i < b.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  for (let i = 0; i < n; i++) classes.forEach((c, j) => { b[i * rec + j] = b[i * rec + j]! % c; });
  return b;
}

test('CIFAR-10 and CIFAR-100 readers agree with NumPy (TFDS-style frombuffer/reshape) on random records', { skip: numpySkip }, async (t) => {
  const d = tempDir(t);
  // The label byte kept, from the dataset's documentation (cifar.html): CIFAR-100's fine label is the second byte.
  for (const [f, classes, keep, files] of [[CIFAR100, [20, 100], 1, ['train.bin', 'test.bin']], [CIFAR10, [10], 0, ['data_batch_1.bin', 'data_batch_2.bin']]] as const) {
    const paths = files.map((n, i) => put(join(d, f.title, n), randomRecords(5 + i * 2, [...classes], 17 + i)));
    const set = loadCifarBatches(paths, 'x', f);
    const o = JSON.parse(runPython('tests/fixtures/cifar_bin_oracle.py', [String(classes.length), String(keep), ...paths])) as { labels: number[]; other: number[][]; n: number; chw_sha256: string };
    assert.equal(o.n, 12);
    assert.deepEqual(set.shape, [o.n, 3, 32, 32]);
    assert.deepEqual([...set.labels!], o.labels, f.title);
    assert.equal(createHash('sha256').update(set.images).digest('hex'), o.chw_sha256, f.title);
    // The kept label differs from the coarse one somewhere, so a reader keeping the wrong byte fails above.
    if (classes.length === 2) assert.ok(o.other.some(([c, fine]) => c !== fine));
  }
});

test('CIFAR-100 as an image tree (split/class/file.png), like cifar10\'s PNG export', async (t) => {
  const root = tempDir(t);
  const a = await writePng(join(root, 'cifar100', 'test', 'apple', '0.png'), 32, 32, 3, (x, y, c) => (x * 5 + y * 3 + c * 70) & 0xff);
  await writePng(join(root, 'cifar100', 'test', 'worm', '0.png'), 32, 32, 3, () => 9);
  const r = await loadDataset('cifar100:test', { root });
  assert.deepEqual(r.set.shape, [2, 3, 32, 32]);
  assert.equal(r.preprocessing.format, 'image folder');
  assert.deepEqual([...r.set.labels!], [0, 1]);
  // HWC PNG bytes to CHW floats: pixel (c, y, x) of the first image.
  assert.equal(r.set.images[(1 * 32 + 4) * 32 + 7], Math.fround(a[(4 * 32 + 7) * 3 + 1]! / 255));
});

test('oodgen data fetch cifar100: the official URL and md5; a checked download unpacks to cifar-100-binary/', async (t) => {
  assert.deepEqual(REMOTE.cifar100, [{ url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz', file: 'cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8' }]);
  const d = tempDir(t);
  const tst = cifar100Bytes(4, 5);
  const tgz = gzipSync(tarBytes([
    { name: 'cifar-100-binary/coarse_label_names.txt', data: new TextEncoder().encode('aquatic_mammals\n') },
    { name: 'cifar-100-binary/train.bin', data: cifar100Bytes(6, 4).bytes },
    { name: 'cifar-100-binary/test.bin', data: tst.bytes },
  ]));
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(200, { 'content-length': tgz.length }).end(tgz);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  // The mirror serves the test archive, whose md5 is not the real one: refused against the published checksum.
  // Asked by its alias, it still lands in cifar100/, where loadDataset looks.
  const cache = join(d, 'cache');
  await assert.rejects(fetchDataset('CIFAR-100', { root: cache, baseUrl: base }),
    (e: Error) => e instanceof OodgenError && /checksum mismatch/.test(e.message) && e.message.includes('expected md5 03b5dce01913d631647c71ecec9e9cb8'));
  assert.deepEqual(paths, ['/~kriz/cifar-100-binary.tar.gz']);
  assert.deepEqual(readdirSync(join(cache, 'cifar100')), [], 'the bad download is deleted and nothing unpacked');

  // With the archive's own md5 the same steps as fetchDataset: download, verify, unpack.
  const dir = join(cache, 'cifar100');
  const md5 = createHash('md5').update(tgz).digest('hex');
  assert.equal(await fetchFile(`${base}/~kriz/cifar-100-binary.tar.gz`, join(dir, 'cifar-100-binary.tar.gz'), { md5 }), 'downloaded');
  const logs: string[] = [];
  unpackFetched('cifar100', dir, (m) => logs.push(m));
  assert.deepEqual(logs, ['cifar100: extracted cifar-100-binary/']);
  assert.deepEqual(readdirSync(join(dir, 'cifar-100-binary')).sort(), ['coarse_label_names.txt', 'test.bin', 'train.bin']);
  assert.ok(readFileSync(join(dir, 'cifar-100-binary', 'test.bin')).equals(Buffer.from(tst.bytes)));
  unpackFetched('cifar100', dir, (m) => logs.push(m));
  assert.equal(logs.length, 1, 'already unpacked: nothing redone');
  const r = await loadDataset('cifar100:test', { root: cache });
  assert.deepEqual([...r.set.labels!], tst.fine);
});

test('data inspect on CIFAR-100: the 100 class names are wrapped under the labels line, every name kept', async (t) => {
  const d = tempDir(t);
  put(join(d, 'cifar-100-binary', 'test.bin'), records([99, 0, 42, 7], [19, 0, 5, 3]));
  const text = formatInspect(await inspectTarget(d));
  const lines = text.split('\n');
  assert.ok(lines.some((l) => /labels: 4, 0\.\.99, 100 classes:$/.test(l)), text);
  for (const l of lines.filter((x) => x.startsWith('      '))) assert.ok(l.length <= 100, `line of ${l.length} characters: ${l}`);
  const names = lines.filter((l) => l.startsWith('      ')).join(' ').split(',').map((x) => x.trim()).filter(Boolean);
  assert.deepEqual(names, [...scanPath(d)[0]!.classes!]);
  assert.deepEqual(wrapList(['a', 'bb', 'cc'], 8, '  '), ['  a, bb,', '  cc']);
});
