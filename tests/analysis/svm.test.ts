import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { trainLinearSvm } from '../../src/analysis/svm.js';
import { vstack } from '../../src/analysis/matrix.js';
import { OodgenError } from '../../src/errors.js';
import { blob, separable } from './synth.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/svm_fixture.json', import.meta.url), 'utf8')) as {
  d: number;
  train: { n: number; X: number[]; y: number[] };
  test: { n: number; X: number[]; y: number[] };
  linearSvc: {
    C: number; classWeight: 'balanced' | null; w: number[]; b: number; testPred: number[]; testAccuracy: number;
    variants: Record<string, { w: number[]; b: number }>;
  }[];
};

function labels(nPos: number, nNeg: number): Int8Array {
  const y = new Int8Array(nPos + nNeg);
  y.fill(1, 0, nPos); y.fill(-1, nPos);
  return y;
}

function accuracy(pred: Int8Array, y: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) ok++;
  return ok / y.length;
}

test('separable by construction: 100% train and held-out accuracy, normal along the separating axis', () => {
  const d = 32, n = 400;
  const X = vstack([separable(n, d, 1, 1), separable(n, d, 2, -1)]);
  const svm = trainLinearSvm(X, 2 * n, d, labels(n, n), { C: 10, seed: 3 });
  assert.equal(accuracy(svm.predict(X, 2 * n), labels(n, n)), 1);
  const T = vstack([separable(300, d, 11, 1), separable(300, d, 12, -1)]);
  assert.equal(accuracy(svm.predict(T, 600), labels(300, 300)), 1);
  const nrm = svm.normal();
  assert.ok(nrm[0] > 0.9, `normal should point along +x0, got ${nrm[0]}`);
  // No convergence assertion: on hard-margin data dual CD (LIBLINEAR and sklearn alike, checked:
  // 618/619 passes at tol 1e-2) needs more than 1000 passes for tol 1e-4; w is accurate long before.
  // decision() is the geometric distance: the unit normal moves it by exactly 1 per unit step.
  const z = T.slice(0, d);
  const z1 = z.map((v, j) => v + nrm[j]);
  const [d0] = svm.decision(z, 1), [d1] = svm.decision(z1, 1);
  assert.ok(Math.abs(d1 - d0 - 1) < 1e-5);
});

test('identical distributions: held-out accuracy near chance', () => {
  const d = 16, n = 1000;
  const X = vstack([blob(n, d, 21), blob(n, d, 22)]);
  const svm = trainLinearSvm(X, 2 * n, d, labels(n, n), { seed: 1 });
  const T = vstack([blob(2000, d, 23), blob(2000, d, 24)]);
  const acc = accuracy(svm.predict(T, 4000), labels(2000, 2000));
  assert.ok(Math.abs(acc - 0.5) < 0.04, `held-out accuracy ${acc} should be ~0.5`);
});

// Elementwise agreement of w (original feature space) and b with sklearn's LinearSVC on the same standardised
// problem. Tolerance: 1e-5 of the largest |w_j|; measured error at tol 1e-6 is at most 3.2e-7 of it. The fixture also
// holds sklearn's w for the same fit with one setting wrong; the tolerance must reject each. The old check,
// |cos(w, w_sklearn)| > 0.99, passed all of them: cos = 0.99983 (C doubled, C = 0.05), 0.99986 (squared hinge),
// 0.99969 (class weights toggled), while max |w_j - w_sklearn_j| / max |w_sklearn| is 0.16, 0.41, 0.042.
// At C = 1 doubling C leaves w unchanged (the hinge-loss solution path is flat on [1, 2] here: sklearn's two fits
// agree to 4e-10), so no check on w can see it there; the C = 0.05 case does.
const W_TOL = 1e-5;

function maxRelDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let j = 0; j < ref.length; j++) { diff = Math.max(diff, Math.abs(a[j]! - ref[j]!)); scale = Math.max(scale, Math.abs(ref[j]!)); }
  return diff / scale;
}

test('agrees with sklearn LinearSVC(loss="hinge", dual=True) on the fixture, w elementwise', () => {
  const { d } = fixture;
  const Xtr = Float32Array.from(fixture.train.X), Xte = Float32Array.from(fixture.test.X);
  const rejected = new Set<string>();
  for (const c of fixture.linearSvc) {
    const what = `C=${c.C} ${c.classWeight}`;
    const svm = trainLinearSvm(Xtr, fixture.train.n, d, fixture.train.y, {
      C: c.C, tol: 1e-6, maxIter: 100000, ...(c.classWeight ? { classWeight: c.classWeight } : {}),
    });
    assert.ok(svm.converged, `${what}: converged`);
    assert.equal(svm.w.length, d);
    const err = maxRelDiff(svm.w, c.w);
    assert.ok(err <= W_TOL, `${what}: max |w_j - w_sklearn_j| / max |w_sklearn| = ${err.toExponential(2)}`);
    assert.ok(Math.abs(svm.b - c.b) <= W_TOL * Math.max(1, Math.abs(c.b)), `${what}: b ${svm.b} vs ${c.b}`);
    for (const [name, v] of Object.entries(c.variants)) {
      const off = maxRelDiff(v.w, c.w);
      if (off > W_TOL) rejected.add(name);
      else assert.ok(name === 'C doubled' && c.C === 1 && off < 1e-8, `${what}, ${name}: sklearn's w is only ${off.toExponential(2)} away`);
    }
    const pred = svm.predict(Xte, fixture.test.n);
    assert.equal(accuracy(pred, c.testPred), 1, `${what}: predictions equal sklearn's`);
    assert.ok(Math.abs(accuracy(pred, fixture.test.y) - c.testAccuracy) < 1e-12);
  }
  assert.deepEqual([...rejected].sort(), ['C doubled', 'class weights toggled', 'squared hinge']);
});

test('squared hinge and balanced weights train; deterministic per seed', () => {
  const d = 8;
  const X = vstack([blob(100, d, 5, 2), blob(300, d, 6, -2)]);
  const y = labels(100, 300);
  const a = trainLinearSvm(X, 400, d, y, { seed: 9, loss: 'squared_hinge', classWeight: 'balanced' });
  const b = trainLinearSvm(X, 400, d, y, { seed: 9, loss: 'squared_hinge', classWeight: 'balanced' });
  assert.deepEqual(a.w, b.w);
  assert.equal(a.b, b.b);
  assert.ok(accuracy(a.predict(X, 400), y) > 0.9);
});

test('bad input raises OodgenError naming the problem', () => {
  const X = blob(10, 4, 1);
  const y = labels(5, 5);
  assert.throws(() => trainLinearSvm(X, 10, 5, y), (e: unknown) => e instanceof OodgenError && /n\*d/.test(e.message));
  assert.throws(() => trainLinearSvm(X, 10, 4, labels(10, 0)), (e: unknown) => e instanceof OodgenError && /negative/.test(e.message));
  assert.throws(() => trainLinearSvm(X, 10, 4, labels(0, 10)), (e: unknown) => e instanceof OodgenError && /positive/.test(e.message));
  const bad = X.slice(); bad[7] = NaN;
  assert.throws(() => trainLinearSvm(bad, 10, 4, y), (e: unknown) => e instanceof OodgenError && /row 1, column 3/.test(e.message));
  assert.throws(() => trainLinearSvm(X, 10, 4, [1, 0, 1, 1, 1, -1, -1, -1, -1, -1]), (e: unknown) => e instanceof OodgenError && /y\[1\]/.test(e.message));
  assert.throws(() => trainLinearSvm(X, 10, 4, labels(5, 4)), (e: unknown) => e instanceof OodgenError && /labels/.test(e.message));
  assert.throws(() => trainLinearSvm(X, 10, 4, y, { C: 0 }), OodgenError);
  const svm = trainLinearSvm(X, 10, 4, y);
  assert.throws(() => svm.decision(X, 4), OodgenError);
});
