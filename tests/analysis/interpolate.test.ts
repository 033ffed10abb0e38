import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossingT, hardestSamples, pathAlongNormal, stripTs } from '../../src/analysis/interpolate.js';
import { trainLinearSvm } from '../../src/analysis/svm.js';
import { vstack } from '../../src/analysis/matrix.js';
import { OodgenError } from '../../src/errors.js';
import { separable } from './synth.js';

test('pathAlongNormal: z + t n, row per t', () => {
  const p = pathAlongNormal([1, 2], [0, 1], [0, 0.5, -1]);
  assert.deepEqual(Array.from(p), [1, 2, 1, 2.5, 1, 1]);
  assert.throws(() => pathAlongNormal([1, 2], [1], [0]), (e: unknown) => e instanceof OodgenError && /normal has length 1/.test(e.message));
  assert.throws(() => pathAlongNormal([1, NaN], [1, 0], [0]), OodgenError);
});

test('crossingT: an OoD code moved along the unit normal lands on the boundary, then on the ID side', () => {
  const d = 16, n = 200;
  const X = vstack([separable(n, d, 1, 1), separable(n, d, 2, -1)]);
  const y = new Int8Array(2 * n); y.fill(1, 0, n); y.fill(-1, n);
  const svm = trainLinearSvm(X, 2 * n, d, y, { seed: 1 });
  const z = X.slice(n * d, n * d + d); // an OoD code
  const tc = crossingT(z, svm);
  assert.ok(tc > 0);
  const [atBoundary, beyond] = svm.decision(pathAlongNormal(z, svm.normal(), [tc, 2 * tc]), 2);
  assert.ok(Math.abs(atBoundary) < 1e-5, `decision at crossing ${atBoundary}`);
  assert.ok(Math.abs(beyond - tc) < 1e-4, 'twice the crossing distance is as far on the ID side');
  const ts = stripTs(z, svm, 5);
  assert.equal(ts.length, 5);
  assert.equal(ts[0], 0);
  assert.ok(Math.abs(ts[2] - tc) < 1e-12);
  assert.throws(() => crossingT([1, 2], svm), (e: unknown) => e instanceof OodgenError && /SVM has d = 16/.test(e.message));
  assert.throws(() => crossingT([1, 2], { w: new Float64Array(2), b: 1 }), /\|w\| = 0/);
});

test('hardestSamples: ID by smallest d, OoD by largest d, ties by index', () => {
  const dist = [0.5, -0.2, 3, -0.2, 1];
  assert.deepEqual(hardestSamples(dist, 3, 'id'), [{ index: 1, distance: -0.2 }, { index: 3, distance: -0.2 }, { index: 0, distance: 0.5 }]);
  assert.deepEqual(hardestSamples(dist, 2, 'ood').map((h) => h.index), [2, 4]);
  assert.equal(hardestSamples(dist, 10, 'id').length, 5);
  assert.throws(() => hardestSamples(dist, -1, 'id'), OodgenError);
  assert.throws(() => hardestSamples(dist, 1, 'both' as 'id'), OodgenError);
});
