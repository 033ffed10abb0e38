import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auroc } from '../../src/analysis/auroc.js';
import { idVsIdControl, makeRandomProjection, randomProjection, separabilityReport } from '../../src/analysis/separability.js';
import { OodgenError } from '../../src/errors.js';
import { blob, separable } from './synth.js';

test('auroc: exact values with ties, OoD positive and higher = more OoD', () => {
  assert.equal(auroc([0, 1], [2, 3]), 1);
  assert.equal(auroc([2, 3], [0, 1]), 0);
  assert.equal(auroc([1, 1], [1, 1]), 0.5);
  // pairs (id, ood): (0,1) win, (0,0) tie, (2,1) loss, (2,0) loss -> (1 + 0.5) / 4
  assert.equal(auroc([0, 2], [1, 0]), 0.375);
  assert.throws(() => auroc([], [1]), OodgenError);
  assert.throws(() => auroc([NaN], [1]), (e: unknown) => e instanceof OodgenError && /ID scores are NaN/.test(e.message));
});

test('separable codes: 100% positive / negative accuracy and AUROC 1 on the held-out split', () => {
  const d = 64;
  const r = separabilityReport({
    idTrain: separable(500, d, 1, 1), oodTrain: separable(500, d, 2, -1),
    idTest: separable(400, d, 3, 1), oodTest: separable(300, d, 4, -1), d,
  });
  assert.equal(r.positiveAccuracy, 1);
  assert.equal(r.negativeAccuracy, 1);
  assert.equal(r.accuracy, 1);
  assert.equal(r.trainAccuracy, 1);
  assert.equal(r.auroc, 1);
  assert.equal(r.idTestDistances.length, 400);
  assert.equal(r.oodTestDistances.length, 300);
  assert.ok(r.idTestDistances.every((v) => v > 0) && r.oodTestDistances.every((v) => v < 0));
  assert.deepEqual(r.counts, { idTrain: 500, idTest: 400, oodTrain: 500, oodTest: 300 });
});

test('identical distributions: accuracy and AUROC near chance', () => {
  const d = 32;
  const r = separabilityReport({
    idTrain: blob(1500, d, 11), oodTrain: blob(1500, d, 12), idTest: blob(1500, d, 13), oodTest: blob(1500, d, 14), d,
  });
  assert.ok(Math.abs(r.accuracy - 0.5) < 0.04, `accuracy ${r.accuracy}`);
  assert.ok(Math.abs(r.auroc - 0.5) < 0.04, `AUROC ${r.auroc}`);
});

test('ID-vs-ID control stays near chance; the same control on shifted sets separates', () => {
  const d = 32;
  const c = idVsIdControl({ idTrain: blob(2000, d, 21), idTest: blob(2000, d, 22), d, seed: 5 });
  assert.ok(Math.abs(c.accuracy - 0.5) < 0.04, `control accuracy ${c.accuracy}`);
  assert.ok(Math.abs(c.auroc - 0.5) < 0.05, `control AUROC ${c.auroc}`);
  assert.equal(c.counts.idTrain + c.counts.idTest, 2000);
  const leak = idVsIdControl({ idTrain: blob(1000, d, 23, 3), idTest: blob(1000, d, 24), d, seed: 5 });
  assert.ok(leak.accuracy > 0.9, `shifted control accuracy ${leak.accuracy}`);
});

test('random projection: shape, determinism per seed, norm preserved in expectation', () => {
  const nPix = 3 * 16 * 16, d = 64, n = 50;
  const pix = blob(n, nPix, 31);
  const a = randomProjection(pix, nPix, d, 7);
  const b = makeRandomProjection(nPix, d, 7)(pix);
  assert.equal(a.length, n * d);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, randomProjection(pix, nPix, d, 8));
  let ratio = 0;
  for (let i = 0; i < n; i++) {
    let px = 0, pz = 0;
    for (let p = 0; p < nPix; p++) px += pix[i * nPix + p] ** 2;
    for (let j = 0; j < d; j++) pz += a[i * d + j] ** 2;
    ratio += pz / px / n;
  }
  assert.ok(Math.abs(ratio - 1) < 0.1, `mean |Rx|^2/|x|^2 = ${ratio}`);
  assert.throws(() => randomProjection(pix.subarray(0, nPix * n - 1), nPix, d), (e: unknown) => e instanceof OodgenError && /multiple of d/.test(e.message));
});

test('bad input: empty set, n*d mismatch, NaN', () => {
  const d = 4;
  const ok = blob(10, d, 1);
  assert.throws(() => separabilityReport({ idTrain: ok, idTest: ok, oodTrain: new Float32Array(0), oodTest: ok, d }),
    (e: unknown) => e instanceof OodgenError && /oodTrain/.test(e.message));
  assert.throws(() => separabilityReport({ idTrain: ok.subarray(1), idTest: ok, oodTrain: ok, oodTest: ok, d }),
    (e: unknown) => e instanceof OodgenError && /idTrain/.test(e.message));
  const nan = ok.slice(); nan[3] = NaN;
  assert.throws(() => separabilityReport({ idTrain: ok, idTest: ok, oodTrain: ok, oodTest: nan, d }),
    (e: unknown) => e instanceof OodgenError && /oodTest.*non-finite/.test(e.message));
});
