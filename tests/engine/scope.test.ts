// tidy() scopes own only what they created: a tensor from an outer scope, a module's parameter, an input that a
// layer returns unchanged (Identity) or a keep()-ed tensor is never freed by an inner scope that returns it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import { Identity, Linear, Sequential } from '../../src/nn/index.js';

test('tidy(() => tidy(() => outer)) leaves a top-level tensor alive', () => {
  const start = E.liveTensors();
  const outer = E.ones([3]);
  const r = E.tidy(() => E.tidy(() => outer));
  assert.equal(r, outer);
  assert.equal(outer.isDisposed, false);
  E.tidy(() => { E.tidy(() => outer); }); // the middle scope returns nothing: it must still not free outer
  assert.equal(outer.isDisposed, false);
  assert.deepEqual(outer.toArray(), [1, 1, 1]);
  outer.dispose();
  assert.equal(E.liveTensors(), start);
});

test('the public Identity layer inside nested scopes does not free its input', () => {
  const start = E.liveTensors();
  const id = new Identity();
  const x = E.full([2, 2], 3);
  const y = E.tidy(() => E.tidy(() => id.forward(x)));
  E.tidy(() => { E.tidy(() => id.forward(x)); });
  assert.equal(y, x);
  assert.equal(x.isDisposed, false);
  assert.deepEqual(x.toArray(), [3, 3, 3, 3]);
  x.dispose();
  assert.equal(E.liveTensors(), start);
});

test('a tensor of an enclosing scope returned by an inner scope stays owned by the enclosing scope', () => {
  const start = E.liveTensors();
  let inMiddle: E.Tensor | null = null;
  const result = E.tidy(() => {
    inMiddle = E.ones([2]);
    const same = E.tidy(() => E.tidy(() => inMiddle!));
    assert.equal(same.isDisposed, false);
    const made = E.tidy(() => E.add(inMiddle!, 1)); // created inside: passed up to this scope
    return made;
  });
  // inMiddle was not returned by its own scope, so that scope freed it; the inner ones never owned it.
  assert.equal(inMiddle!.isDisposed, true);
  assert.deepEqual(result.toArray(), [2, 2]);
  result.dispose();
  assert.equal(E.liveTensors(), start);
});

test('keep() inside an inner scope is honoured when that scope returns the tensor', () => {
  const start = E.liveTensors();
  let kept: E.Tensor | null = null;
  E.tidy(() => {
    const r = E.tidy(() => (kept = E.keep(E.ones([4]))));
    assert.equal(r, kept);
  });
  assert.equal(kept!.isDisposed, false, 'the enclosing scope does not free a kept tensor');
  assert.equal(E.liveTensors(), start + 1);
  kept!.dispose();
  assert.equal(E.liveTensors(), start);
});

test('module parameters returned through nested scopes survive, temporaries do not', () => {
  const model = new Sequential(new Identity(), new Linear(2, 2));
  const params = model.parameters();
  const start = E.liveTensors();
  const out = E.tidy(() => E.tidy(() => ({ w: params[0], y: model.forward(E.ones([1, 2])) })));
  assert.equal(params[0].isDisposed, false);
  assert.equal(out.y.isDisposed, false);
  assert.equal(E.liveTensors(), start + 1, 'only the output is new');
  out.y.dispose();
  assert.equal(E.liveTensors(), start);
  model.dispose();
});
