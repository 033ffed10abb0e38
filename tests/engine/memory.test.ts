import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import { Sequential, Conv2d, BatchNorm2d, LeakyReLU, Flatten, Linear } from '../../src/nn/index.js';
import { Adam } from '../../src/optim/index.js';

test('tidy frees temporaries and keeps what is returned', () => {
  const start = E.liveTensors();
  const kept = E.tidy(() => {
    const a = E.ones([3]);
    const b = E.mul(a, 2);
    E.add(b, 1);
    return { out: E.sum(b) };
  });
  assert.equal(E.liveTensors(), start + 1);
  assert.equal(kept.out.item(), 6);
  kept.out.dispose();
  assert.equal(E.liveTensors(), start);
});

test('tidy frees everything when fn throws', () => {
  const start = E.liveTensors();
  assert.throws(() => E.tidy(() => {
    E.ones([3]);
    throw new Error('boom');
  }), /boom/);
  assert.equal(E.liveTensors(), start);
});

test('nested tidy moves results to the parent scope', () => {
  const start = E.liveTensors();
  E.tidy(() => {
    const inner = E.tidy(() => E.add(E.ones([2]), 1));
    assert.equal(inner.isDisposed, false);
  });
  assert.equal(E.liveTensors(), start);
});

test('a 300-step training loop ends with the live-tensor count it started with', () => {
  const model = new Sequential(
    new Conv2d(1, 4, 4, { stride: 2, padding: 1 }), new BatchNorm2d(4), new LeakyReLU(0.2),
    new Flatten(), new Linear(4 * 4 * 4, 1),
  );
  const opt = new Adam(model.parameters(), { lr: 1e-2 });
  const gen = E.Generator.cpu(0);
  const x = E.randn([8, 1, 8, 8], { generator: gen });
  const y = E.randn([8, 1], { generator: gen });
  const step = () => E.tidy(() => {
    opt.zeroGrad();
    const loss = E.mseLoss(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss.item();
  });
  const first = step(); // creates the optimizer state
  const start = E.liveTensors();
  let last = first;
  for (let i = 0; i < 299; i++) last = step();
  assert.equal(E.liveTensors(), start, 'no tensor leaked across 300 steps');
  assert.ok(last < first, `loss fell (${first} -> ${last})`);
  opt.dispose(); model.dispose(); x.dispose(); y.dispose();
});
