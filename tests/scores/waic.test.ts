// WAIC's moments (src/scores/waic.ts) against the closed form, and its range: a variance beyond float32 saturates
// instead of becoming Infinity (far-OoD inputs of small Glows reach -log p ~1e27 nats, so Var ~1e55).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waicScore } from '../../src/scores/waic.js';

const F32_MAX = 3.4028234663852886e38;

test('waicScore: -(mean - population variance) over the members, per image', () => {
  // image 0: members -10, -12, -14 -> mean -12, var (4 + 0 + 4) / 3 = 8/3, score 12 + 8/3
  // image 1: members -1, -1, -4  -> mean -2,  var (1 + 1 + 4) / 3 = 2,   score 4
  const r = waicScore([[-10, -1], [-12, -1], [-14, -4]]);
  assert.deepEqual(Array.from(r.mean), [-12, -2]);
  assert.ok(Math.abs(r.variance[0]! - 8 / 3) < 1e-6 && Math.abs(r.variance[1]! - 2) < 1e-6, `variance ${r.variance}`);
  assert.ok(Math.abs(r.score[0]! - (12 + 8 / 3)) < 1e-5 && Math.abs(r.score[1]! - 4) < 1e-6, `score ${r.score}`);
});

test('waicScore: a variance beyond float32 saturates at its largest value, ranked above every finite score', () => {
  // -log p of uniform noise under two small CIFAR-10 Glows, as measured (7.3e27 and 9.4e8 nats): Var ~1.3e55.
  const perModel = [[-7.3e27, -3000, -1e20], [-9.4e8, -3100, -1e20]];
  const r = waicScore(perModel);
  assert.ok(r.score.every(Number.isFinite), `scores ${r.score}`);
  assert.equal(r.score[0], F32_MAX);
  assert.equal(r.variance[0], F32_MAX);
  assert.ok(Math.abs(r.mean[0]! / -3.65e27 - 1) < 1e-6, `mean ${r.mean[0]}`);
  // the finite ones are as the closed form gives them: 3050 + 50^2 and 1e20 + 0
  assert.ok(Math.abs(r.score[1]! - (3050 + 2500)) < 1e-3, `score ${r.score[1]}`);
  assert.ok(Math.abs(r.score[2]! / 1e20 - 1) < 1e-6, `score ${r.score[2]}`);
  assert.ok(r.score[0]! > r.score[2]! && r.score[2]! > r.score[1]!, 'order kept');
  // and the other sign: a member log p of +1e30 against -1e30 (no real model, the clamp is symmetric)
  const s = waicScore([[1e30], [-1e30]]);
  assert.equal(s.score[0], F32_MAX);
});

test('waicScore: NaN and Infinity from a member pass through (the unit then fails as non-finite, naming the image)', () => {
  const r = waicScore([[Number.NEGATIVE_INFINITY, -1], [-2, -1]]);
  assert.ok(!Number.isFinite(r.score[0]!));
  assert.equal(r.score[1], 1);
});
