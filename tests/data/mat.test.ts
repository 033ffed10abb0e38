import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readMat, readMatHeaders } from '../../src/data/mat.js';
import { loadSvhnMat, svhnInfo } from '../../src/data/svhn.js';
import { assertBadFile, matFile, put, svhnFile, tempDir } from './helpers.js';

test('SVHN .mat: uncompressed and zlib-compressed files give NCHW images and 10 -> 0 labels', (t) => {
  const d = tempDir(t);
  for (const compressed of [false, true]) {
    const f = svhnFile(12, compressed, 32, 32);
    const p = put(join(d, `${compressed}.mat`), f.bytes);
    const set = loadSvhnMat(p, 'svhn');
    assert.deepEqual(set.shape, [12, 3, 32, 32]);
    assert.deepEqual([...set.labels!], f.digits);
    assert.ok(Buffer.from(set.images).equals(Buffer.from(f.nchw)), 'pixels transposed from column-major');
    assert.deepEqual(svhnInfo(p), { count: 12, shape: [3, 32, 32] });
    const names = readMatHeaders(p).map((v) => `${v.name}:${v.className}:${v.dims.join('x')}`);
    assert.deepEqual(names, ['X:uint8:32x32x3x12', 'y:double:12x1']);
  }
  // Non-square images keep rows and columns apart.
  const r = svhnFile(2, true, 5, 7);
  const p = put(join(d, 'rect.mat'), r.bytes);
  const set = loadSvhnMat(p, 's');
  assert.deepEqual(set.shape, [2, 3, 5, 7]);
  assert.ok(Buffer.from(set.images).equals(Buffer.from(r.nchw)));
});

test('MAT-file: corrupted variants are OodgenErrors naming the file', async (t) => {
  const d = tempDir(t);
  const raw = svhnFile(4, false).bytes;
  const z = svhnFile(4, true).bytes;
  const cases: [string, Uint8Array, RegExp][] = [
    ['trunc-raw.mat', raw.subarray(0, raw.length - 500), /truncated/],
    ['trunc-z.mat', z.subarray(0, 300), /truncated|corrupt/],
    ['short.mat', raw.subarray(0, 60), /shorter than the 128-byte/],
    ['text.mat', Buffer.concat([Buffer.from('hello world'.padEnd(128, ' ')), raw.subarray(128)]), /not a MATLAB level 5/],
    ['v73.mat', Buffer.concat([raw.subarray(0, 512), Buffer.from([0x89]), Buffer.from('HDF\r\n'), Buffer.alloc(100)]), /v7\.3 \(HDF5\)/],
  ];
  const flipped = Buffer.from(z);
  for (let i = 150; i < 200; i++) flipped[i] = flipped[i]! ^ 0x5a;
  cases.push(['flipped.mat', flipped, /corrupt/]);
  for (const [name, bytes, re] of cases) {
    const p = put(join(d, name), bytes);
    await assertBadFile(() => loadSvhnMat(p, 's'), p, re);
  }
  const X = new Uint8Array(32 * 32 * 3 * 3);
  const noY = put(join(d, 'noy.mat'), matFile([{ name: 'X', cls: 'uint8', dims: [32, 32, 3, 3], data: X }], true));
  await assertBadFile(() => loadSvhnMat(noY, 's'), noY, /no variable "y"/);
  const mismatch = put(join(d, 'count.mat'), matFile([
    { name: 'X', cls: 'uint8', dims: [32, 32, 3, 3], data: X },
    { name: 'y', cls: 'double', dims: [4, 1], data: new Float64Array([1, 2, 3, 4]) },
  ], false));
  await assertBadFile(() => loadSvhnMat(mismatch, 's'), mismatch, /count mismatch: X holds 3 images but y holds 4 labels/);
  const badDims = put(join(d, 'dims.mat'), matFile([
    { name: 'X', cls: 'uint8', dims: [32, 32, 9], data: new Uint8Array(32 * 32 * 9) },
    { name: 'y', cls: 'double', dims: [9, 1], data: new Float64Array(9).fill(1) },
  ], false));
  await assertBadFile(() => loadSvhnMat(badDims, 's'), badDims, /expected H x W x 3 x N/);
  const badLabel = put(join(d, 'label.mat'), matFile([
    { name: 'X', cls: 'uint8', dims: [32, 32, 3, 2], data: new Uint8Array(32 * 32 * 6) },
    { name: 'y', cls: 'double', dims: [2, 1], data: new Float64Array([3, 42]) },
  ], false));
  await assertBadFile(() => loadSvhnMat(badLabel, 's'), badLabel, /label 42 at index 1/);
  const missing = join(d, 'missing.mat');
  await assertBadFile(() => readMat(missing), missing, /no such file/);
});
