import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';

test('typed-array round trips keep dtype, shape and values', () => {
  const f = new Float32Array([1.5, -2, 3.25, 0, 7, 8]);
  const t = E.fromTypedArray(f, [2, 3]);
  assert.deepEqual(t.shape, [2, 3]);
  assert.equal(t.dtype, 'float32');
  assert.equal(t.device, 'cpu');
  assert.deepEqual(Array.from(t.data() as Float32Array), Array.from(f));
  const u = E.fromTypedArray(new Uint8Array([0, 128, 255]), [3]);
  assert.equal(u.dtype, 'uint8');
  assert.deepEqual(Array.from(u.toFloat32Array()), [0, 128, 255]);
  const l = E.tensor([1, 2, 3], [3], { dtype: 'int64' });
  assert.ok(l.data() instanceof BigInt64Array);
  assert.deepEqual(l.toArray(), [1, 2, 3]);
  const b = E.tensor([1, 0], [2], { dtype: 'bool' });
  assert.equal(b.dtype, 'bool');
  assert.throws(() => E.fromTypedArray(f, [4, 2]), /bytes given, shape needs/);
  for (const x of [t, u, l, b]) x.dispose();
});

test('seeded generators reproduce torch.Generator streams and restore state', () => {
  // torch.manual_seed(1); torch.randn(2, 3) in PyTorch 1.13 / 2.x on CPU
  const expected = [0.6614, 0.2669, 0.0617, 0.6213, -0.4519, -0.1661];
  const t = E.randn([2, 3], { generator: E.Generator.cpu(1) });
  (t.data() as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-4, `${v} vs ${expected[i]}`));
  const g = E.Generator.cpu(7);
  const state = g.getState();
  const a = E.rand([5], { generator: g }).toArray();
  g.setState(state);
  const b = E.rand([5], { generator: g }).toArray();
  assert.deepEqual(a, b);
  E.manualSeed(3);
  const c = E.randn([4]).toArray();
  E.manualSeed(3);
  assert.deepEqual(E.randn([4]).toArray(), c);
  t.dispose();
});

test('autograd: backward, grad, noGrad, detach, clipGradNorm', () => {
  const x = E.tensor([1, 2, 3]).requiresGrad_();
  const y = E.sum(E.square(x));
  y.backward();
  assert.deepEqual(x.grad()!.toArray(), [2, 4, 6]);
  const z = E.noGrad(() => E.mul(x, 2));
  assert.equal(z.requiresGrad, false);
  assert.equal(E.isGradEnabled(), true);
  assert.equal(E.detach(x).requiresGrad, false);
  const before = E.clipGradNorm([x], 1);
  assert.ok(Math.abs(before - Math.sqrt(56)) < 1e-4);
  const g = x.grad()!.toArray();
  assert.ok(Math.abs(Math.hypot(...g) - 1) < 1e-4);
  x.setGrad(null);
  assert.equal(x.grad(), null);
});

test('thread count is settable', () => {
  const n = E.getNumThreads();
  E.setNumThreads(1);
  assert.equal(E.getNumThreads(), 1);
  E.setNumThreads(n);
  assert.throws(() => E.setNumThreads(0), /positive integer/);
});
