import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';

test('a shape mismatch throws an Error naming both shapes, and the process goes on', () => {
  const a = E.zeros([2, 3]), b = E.zeros([2, 4]);
  assert.throws(() => E.add(a, b), (e: Error) => /\[2, 3\]/.test(e.message) && /\[2, 4\]/.test(e.message) && /aten::add/.test(e.message));
  assert.throws(() => E.matmul(a, a), (e: Error) => /2x3 and 2x3/.test(e.message));
  assert.throws(() => E.conv2d(E.zeros([1, 3, 8, 8]), E.zeros([4, 2, 3, 3])), /Tensor\[1, 3, 8, 8\].*Tensor\[4, 2, 3, 3\]/);
  assert.throws(() => E.reshape(a, [5]), /shape '\[5\]' is invalid/);
  a.dispose(); b.dispose();
});

test('using a disposed tensor is an Error, not a crash', () => {
  const a = E.ones([2]);
  a.dispose();
  assert.equal(a.isDisposed, true);
  assert.throws(() => E.add(a, 1), /disposed|after dispose/);
  a.dispose(); // idempotent
});

test('bad arguments are refused with a message', () => {
  assert.throws(() => E.zeros([2, -1]), /non-negative integers/);
  assert.throws(() => E.narrow(E.zeros([3]), 0, 0.5, 1), /expected an integer/);
  assert.throws(() => E.toDtype(E.zeros([1]), 'complex' as never), /unknown dtype/);
  assert.throws(() => E.resolveDevice('tpu'), /unknown device/);
  if (!E.cuda.isAvailable()) assert.throws(() => E.resolveDevice('cuda'), /no usable CUDA/);
  assert.throws(() => E.crossEntropy(E.zeros([2, 3]), E.zeros([2]), { reduction: 'avg' as never }), /reduction/);
});

test('item() on a non-scalar names the shape', () => {
  const t = E.zeros([2, 2]);
  assert.throws(() => t.item(), /4 elements, shape \[2, 2\]/);
  t.dispose();
});
