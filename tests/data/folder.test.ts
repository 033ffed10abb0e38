import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { decodeImages, listImageFolder } from '../../src/data/folder.js';
import { scanPath } from '../../src/data/sources.js';
import { assertBadFile, put, tempDir, writePng } from './helpers.js';

test('image folder: class tree decodes to exact NCHW pixels with sorted-class labels', async (t) => {
  const d = tempDir(t);
  const a = await writePng(join(d, 'cat', '1.png'), 4, 3, 3, (x, y, c) => x * 10 + y * 50 + c);
  await writePng(join(d, 'ant', '1.png'), 4, 3, 3, () => 7);
  await writePng(join(d, 'cat', '2.png'), 4, 3, 1, (x) => x * 60);
  const l = listImageFolder(d);
  assert.deepEqual(l.classes, ['ant', 'cat']);
  assert.deepEqual([...l.labels!], [0, 1, 1]);
  const set = await decodeImages(l.files, { name: 't' }, l.labels);
  assert.deepEqual(set.shape, [3, 3, 3, 4]);
  // Image 1 (cat/1.png), channel 2, row 1, col 3: 3*10 + 1*50 + 2.
  assert.equal(set.images[1 * 36 + 2 * 12 + 1 * 4 + 3], 82);
  assert.equal(set.images[1 * 36 + 0 * 12 + 0 * 4 + 1], a[(0 * 4 + 1) * 3 + 0]);
  // The gray image was expanded to three equal planes.
  for (let c = 0; c < 3; c++) assert.equal(set.images[2 * 36 + c * 12 + 2], 120);
  const gray = await decodeImages([l.files[2]!], { name: 'g' });
  assert.deepEqual(gray.shape, [1, 1, 3, 4], 'a gray-only folder stays 1 channel');
  const small = await decodeImages(l.files, { name: 't', size: 2 });
  assert.deepEqual(small.shape, [3, 3, 2, 2]);
  assert.ok(small.images.slice(0, 12).every((v) => v === 7), 'a constant image stays constant through resize');
});

test('CelebA layout: partition file splits, and its problems are reported with the file', async (t) => {
  const d = tempDir(t);
  const names = ['000001.jpg', '000002.jpg', '000003.jpg', '000004.jpg'];
  for (const n of names) await writePng(join(d, 'img_align_celeba', n.replace('.jpg', '.png')), 6, 8, 3, (x) => x * 30);
  // CelebA's files are JPEGs; the reader decodes by content, so PNG bytes under .jpg names are fine here too.
  for (const n of names) put(join(d, 'img_align_celeba', n), readFileSync(join(d, 'img_align_celeba', n.replace('.jpg', '.png'))));
  put(join(d, 'list_eval_partition.txt'), `${names[0]} 0\n${names[1]} 0\n${names[2]} 1\n${names[3]} 2\n`);
  const entries = scanPath(d, 'celeba');
  assert.deepEqual(entries.map((e) => e.split), ['train', 'valid', 'test', 'all']);
  const train = await entries[0]!.load({ size: 4 });
  assert.deepEqual(train.shape, [2, 3, 4, 4]);
  assert.equal((await entries[3]!.info()).count, 8);
  put(join(d, 'list_eval_partition.txt'), `${names[0]} 0\n999999.jpg 0\n`);
  const part = join(d, 'list_eval_partition.txt');
  await assertBadFile(() => scanPath(d, 'celeba')[0]!.load({ size: 4 }), part, /lists 999999\.jpg, which is not in/);
  put(part, 'garbage line here\n');
  await assertBadFile(() => scanPath(d, 'celeba')[0]!.load({ size: 4 }), part, /line 1 .* is not "<file> <0\|1\|2>"/);
});

test('image folder: unreadable, truncated, odd-sized images and missing/empty folders', async (t) => {
  const d = tempDir(t);
  const ok1 = join(d, 'a', 'ok.png');
  await writePng(ok1, 5, 5, 3, () => 1);
  const garbage = put(join(d, 'a', 'z-garbage.png'), Buffer.from('this is not a png at all'));
  await assertBadFile(() => decodeImages([ok1, garbage], { name: 't' }), garbage, /cannot decode/);
  const whole = readFileSync(ok1);
  const big = join(d, 'b', 'big.png');
  await writePng(big, 40, 40, 3, (x, y) => (x * y) & 0xff);
  const trunc = put(join(d, 'b', 'trunc.png'), readFileSync(big).subarray(0, 120));
  await assertBadFile(() => decodeImages([trunc], { name: 't' }), trunc, /cannot decode/);
  const jpgBytes = await (await import('sharp')).default(readFileSync(big)).jpeg().toBuffer();
  const truncJpg = put(join(d, 'b', 'trunc.jpg'), jpgBytes.subarray(0, Math.floor(jpgBytes.length * 0.6)));
  await assertBadFile(() => decodeImages([truncJpg], { name: 't' }), truncJpg, /cannot decode/);
  const odd = join(d, 'c', 'odd.png');
  await writePng(odd, 6, 5, 3, () => 1);
  await assertBadFile(() => decodeImages([ok1, odd], { name: 't' }), odd, /odd-sized image, 6x5 .* is 5x5/);
  assert.deepEqual((await decodeImages([ok1, odd], { name: 't', size: 4 })).shape, [2, 3, 4, 4]);
  const empty = join(d, 'empty');
  put(join(empty, 'notes.txt'), 'x');
  await assertBadFile(() => listImageFolder(empty), empty, /no images found/);
  await assertBadFile(() => listImageFolder(join(d, 'missing')), join(d, 'missing'), /no such file or folder/);
  await assertBadFile(() => scanPath(join(d, 'missing')), join(d, 'missing'), /no such file or folder/);
  void whole;
});
