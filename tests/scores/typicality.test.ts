// Typicality (Nalisnick et al. 2019) against closed forms: for Gaussian -log p values with sd sigma, the batch
// statistic |mean of M - H| is half-normal with scale sigma / sqrt(M), so eps_alpha = z_{1-alpha/2} sigma / sqrt(M).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/data/rng.js';
import { fitTypicality, typicalityBatchScores, typicalityBatchTest, typicalityScore } from '../../src/scores/typicality.js';
import { OodgenError } from '../../src/errors.js';

const gaussianLogLik = (n: number, seed: number, mean = -500, sd = 20) => {
  const r = new Rng(seed);
  return Float64Array.from({ length: n }, () => mean + sd * r.normal());
};

test('per sample: |-log p - H| with H the mean ID NLL of the even half', () => {
  const ll = [-10, -20, -30, -40];
  const s = fitTypicality(ll, { m: 1, bootstrap: 100 });
  assert.equal(s.entropy, 20); // (10 + 30) / 2
  assert.deepEqual([...typicalityScore([-20, -15, 5], s)], [0, 5, 25]);
});

test('batch test: the bootstrap threshold matches the half-normal quantile, and the ID false-alarm rate is alpha', () => {
  const ll = gaussianLogLik(20_000, 1);
  for (const [m, alpha, z] of [[5, 0.05, 1.959964], [25, 0.01, 2.575829]] as const) {
    const s = fitTypicality(ll, { m, alpha, bootstrap: 20_000, seed: 3 });
    assert.ok(Math.abs(s.entropy - 500) < 0.6, `H ${s.entropy}`); // 4 standard errors of 20/sqrt(10^4)
    const expected = (z * 20) / Math.sqrt(m);
    assert.ok(Math.abs(s.epsilon / expected - 1) < 0.05, `M ${m}: eps ${s.epsilon} vs ${expected}`);
    const fresh = gaussianLogLik(m * 4000, 9);
    const scores = typicalityBatchScores(fresh, s);
    let alarms = 0;
    for (let g = 0; g < 4000; g++) if (scores[g * m]! > s.epsilon) alarms++;
    const se = Math.sqrt((alpha * (1 - alpha)) / 4000);
    assert.ok(Math.abs(alarms / 4000 - alpha) < 4 * se + 0.005, `M ${m}: false alarms ${alarms / 4000} vs ${alpha}`);
    // A batch shifted by 4 sigma/sqrt(M) in either direction is flagged: too likely is as atypical as too unlikely.
    assert.ok(typicalityBatchTest(Array(m).fill(-500 - (4 * 20) / Math.sqrt(m)), s).ood);
    assert.ok(typicalityBatchTest(Array(m).fill(-500 + (4 * 20) / Math.sqrt(m)), s).ood);
  }
});

test('bad options and wrong batch sizes are refused', () => {
  assert.throws(() => fitTypicality([1, 2], {}), OodgenError);
  assert.throws(() => fitTypicality([1, 2, 3, 4], { alpha: 1 }), /alpha/);
  assert.throws(() => fitTypicality([1, 2, NaN, 4]), /log-likelihood 2 is NaN/);
  const s = fitTypicality([-1, -2, -3, -4, -5, -6], { m: 3, bootstrap: 10 });
  assert.throws(() => typicalityBatchTest([-1, -2], s), /M = 3 images, got 2/);
});
