import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import { Adam, AdamW, SGD, type Optimizer } from '../../src/optim/index.js';

// f(p) = sum((p - target)^2): gradient 2 (p - target), so every update is hand-computable.
const target = [1, -2, 3];
function grad(p: number[]): number[] {
  return p.map((v, i) => 2 * (v - target[i]));
}
function stepEngine(p: E.Tensor, opt: Optimizer): void {
  E.tidy(() => {
    opt.zeroGrad();
    E.sum(E.square(E.sub(p, E.tensor(target)))).backward();
    opt.step();
  });
}

test('Adam follows the update rule of Kingma & Ba / torch.optim.Adam', () => {
  const p = E.tensor([0, 0, 0]).requiresGrad_();
  const opt = new Adam([p], { lr: 0.1, weightDecay: 0.01 });
  let ref = [0, 0, 0];
  const m = [0, 0, 0], v = [0, 0, 0];
  for (let t = 1; t <= 5; t++) {
    stepEngine(p, opt);
    const g = grad(ref).map((gi, i) => gi + 0.01 * ref[i]);
    ref = ref.map((x, i) => {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
      return x - (0.1 / (1 - 0.9 ** t)) * (m[i] / denom);
    });
  }
  p.toArray().forEach((x, i) => assert.ok(Math.abs(x - ref[i]) < 1e-5, `${x} vs ${ref[i]}`));
  opt.dispose();
});

test('AdamW decays weights decoupled from the gradient', () => {
  const p = E.tensor([1, 1, 1]).requiresGrad_();
  const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.5 });
  stepEngine(p, opt);
  // step 1: p * (1 - lr*wd) - lr * sign(g) (Adam's first step has magnitude lr)
  const expected = [1 * 0.95 - 0.1 * Math.sign(0), 0.95 - 0.1, 0.95 + 0.1];
  p.toArray().forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-5, `${x} vs ${expected[i]}`));
});

test('SGD with momentum and Nesterov matches torch.optim.SGD', () => {
  for (const nesterov of [false, true]) {
    const p = E.tensor([0, 0, 0]).requiresGrad_();
    const opt = new SGD([p], { lr: 0.05, momentum: 0.9, nesterov });
    let ref = [0, 0, 0];
    let buf: number[] | null = null;
    for (let t = 0; t < 4; t++) {
      stepEngine(p, opt);
      const g = grad(ref);
      buf = buf === null ? g : buf.map((b, i) => 0.9 * b + g[i]);
      const d = nesterov ? g.map((gi, i) => gi + 0.9 * buf![i]) : buf;
      ref = ref.map((x, i) => x - 0.05 * d[i]);
    }
    p.toArray().forEach((x, i) => assert.ok(Math.abs(x - ref[i]) < 1e-5, `nesterov=${nesterov}: ${x} vs ${ref[i]}`));
    opt.dispose();
  }
});

test('optimizer state saves and restores: 5 + 5 steps equal 10 steps', () => {
  const run = (split: boolean): number[] => {
    const p = E.tensor([0.5, -0.5, 2]).requiresGrad_();
    let opt = new Adam([p], { lr: 0.05 });
    for (let i = 0; i < 5; i++) stepEngine(p, opt);
    if (split) {
      const s = opt.stateDict();
      const copy = { tensors: new Map([...s.tensors].map(([k, t]) => [k, E.clone(t)])), meta: JSON.parse(JSON.stringify(s.meta)) };
      opt.dispose();
      opt = new Adam([p], { lr: 0.05 });
      opt.loadStateDict(copy);
      for (const t of copy.tensors.values()) t.dispose();
    }
    for (let i = 0; i < 5; i++) stepEngine(p, opt);
    opt.dispose();
    return p.toArray();
  };
  assert.deepEqual(run(true), run(false));
  const p = E.tensor([1]).requiresGrad_();
  const sgd = new SGD([p], { lr: 0.1 });
  assert.throws(() => new Adam([p]).loadStateDict({ tensors: new Map(), meta: { kind: 'sgd', numParams: 1 } }), /for 'sgd'/);
  assert.throws(() => new SGD([p], { lr: 0 }), /lr must be > 0/);
  sgd.dispose();
});
