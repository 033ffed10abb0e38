import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fitMahalanobis, oneClassReport } from '../../src/analysis/one-class.js';
import { OodgenError } from '../../src/errors.js';
import { blob, separable } from './synth.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/svm_fixture.json', import.meta.url), 'utf8')) as {
  d: number;
  ledoitWolf: { n: number; X: number[][]; queries: number[][]; shrinkage: number; location: number[]; mahalanobis: number[] };
};

test('Ledoit-Wolf shrinkage and Mahalanobis distances match sklearn.covariance.LedoitWolf', () => {
  const { d, ledoitWolf: lw } = fixture;
  const m = fitMahalanobis(Float64Array.from(lw.X.flat()), lw.n, d);
  assert.ok(Math.abs(m.shrinkage - lw.shrinkage) < 1e-9, `shrinkage ${m.shrinkage} vs ${lw.shrinkage}`);
  lw.location.forEach((v, j) => assert.ok(Math.abs(m.mean[j] - v) < 1e-9));
  const s = m.score(Float64Array.from(lw.queries.flat()), lw.queries.length);
  lw.mahalanobis.forEach((v, i) => assert.ok(Math.abs(s[i] - v) < 1e-6 * Math.max(1, v), `query ${i}: ${s[i]} vs ${v}`));
});

test('separable synthetic codes: one-class AUROC > 0.99', () => {
  const d = 64;
  // Margin 4: the ID codes' first coordinate lies in [4, 6], the OoD codes' in [-6, -4]. (With margin 1
  // the 63 noise dimensions dilute the Mahalanobis distance to AUROC ~0.86 while the supervised SVM
  // still gets 100%: the one-class score is a weaker, zero-shot baseline, not a substitute.)
  const r = oneClassReport({ idTrain: separable(1000, d, 1, 1, 4), idTest: separable(500, d, 2, 1, 4), oodTest: separable(500, d, 3, -1, 4), d });
  assert.ok(r.auroc > 0.99, `AUROC ${r.auroc}`);
  // Also for Gaussian blobs whose means are 10 sigma apart (the squared distance of an OoD code is
  // ~64 + 100 against ~64 +- 11 for ID: the chi-square spread of the other dimensions is the noise).
  const r2 = oneClassReport({ idTrain: blob(1000, d, 4), idTest: blob(500, d, 5), oodTest: blob(500, d, 6, 10), d });
  assert.ok(r2.auroc > 0.99, `blob AUROC ${r2.auroc}`);
});

test('identical distributions: one-class AUROC near 0.5', () => {
  const d = 32;
  const r = oneClassReport({ idTrain: blob(2000, d, 7), idTest: blob(2000, d, 8), oodTest: blob(2000, d, 9), d });
  assert.ok(Math.abs(r.auroc - 0.5) < 0.04, `AUROC ${r.auroc}`);
});

test('more dimensions than samples still fits thanks to shrinkage; bad input raises', () => {
  const d = 50;
  const m = fitMahalanobis(blob(20, d, 10), 20, d);
  assert.ok(m.shrinkage > 0 && m.shrinkage <= 1);
  assert.ok(m.score(blob(3, d, 11), 3).every((v) => Number.isFinite(v) && v >= 0));
  assert.throws(() => fitMahalanobis(blob(20, d, 10), 20, d, { shrinkage: 0 }), (e: unknown) => e instanceof OodgenError && /positive definite/.test(e.message));
  assert.throws(() => fitMahalanobis(blob(20, d, 10), 21, d), (e: unknown) => e instanceof OodgenError && /n\*d/.test(e.message));
  assert.throws(() => oneClassReport({ idTrain: blob(20, 4, 1), idTest: blob(2, 4, 2), oodTest: new Float32Array(0), d: 4 }),
    (e: unknown) => e instanceof OodgenError && /oodTest is empty/.test(e.message));
});
