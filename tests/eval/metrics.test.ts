import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bootstrapMetrics, METRIC_NAMES, oodMetrics, rocCurve, type MetricName } from '../../src/eval/metrics.js';
import { OodgenError } from '../../src/errors.js';
import { mulberry32 } from '../../src/eval/prng.js';

const close = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected} (tol ${tol})`);

test('perfect separation: AUROC 1, AP 1 both ways, FPR95 0', () => {
  const m = oodMetrics([0, 1, 2, 3], [10, 11, 12]);
  assert.deepEqual(m, { AUROC: 1, 'AUPR-IN': 1, 'AUPR-OUT': 1, FPR95TPR: 0, nId: 4, nOod: 3 });
});

test('inverted scores: AUROC 0 and FPR95 1', () => {
  const m = oodMetrics([10, 11, 12], [0, 1, 2, 3]);
  assert.equal(m.AUROC, 0);
  assert.equal(m.FPR95TPR, 1);
  // Every OoD sits below all 3 ID: the k-th OoD adds recall 1/4 at precision k/(3+k).
  close(m['AUPR-OUT'], (1 / 4 + 2 / 5 + 3 / 6 + 4 / 7) / 4, 1e-15, 'AUPR-OUT');
});

test('all scores tied: AUROC 0.5, AP equals the positive fraction', () => {
  const m = oodMetrics(new Array(30).fill(7), new Array(10).fill(7));
  assert.equal(m.AUROC, 0.5);
  assert.equal(m['AUPR-OUT'], 10 / 40);
  assert.equal(m['AUPR-IN'], 30 / 40);
  // One threshold only: crossing it takes TPR from 0 to 1 and FPR with it.
  assert.equal(m.FPR95TPR, 1);
});

test('ties get half credit (Mann–Whitney), not an order-dependent 0 or 1', () => {
  // Pairs: (1 vs 1) tie = 0.5, (1 vs 2) = 1, (0 vs 1) = 1, (0 vs 2) = 1 -> 3.5 / 4.
  assert.equal(oodMetrics([0, 1], [1, 2]).AUROC, 3.5 / 4);
  // Order of the inputs must not matter with ties.
  assert.equal(oodMetrics([1, 0], [2, 1]).AUROC, 3.5 / 4);
});

test('FPR95 counts tied ID samples at the threshold as false positives', () => {
  // OoD at 0..19: TPR first reaches 19/20 = 0.95 at threshold 1.
  const ood = Array.from({ length: 20 }, (_, i) => i);
  // ID tied at the threshold (1) counts; ID at 0.5 lies below it and does not.
  const id = [1, 0.5, -5, -6];
  assert.equal(oodMetrics(id, ood).FPR95TPR, 1 / 4);
});

test('accepts typed arrays and infinities', () => {
  const m = oodMetrics(new Float32Array([-Infinity, 0]), new Float64Array([Infinity, 1]));
  assert.equal(m.AUROC, 1);
});

test('empty or NaN inputs raise OodgenError that says which side and how many', () => {
  assert.throws(() => oodMetrics([], [1]), (e: unknown) => e instanceof OodgenError && /no ID scores/.test(e.message));
  assert.throws(() => oodMetrics([1], []), (e: unknown) => e instanceof OodgenError && /no OoD scores/.test(e.message));
  assert.throws(
    () => oodMetrics([1, NaN, NaN], [1]),
    (e: unknown) => e instanceof OodgenError && /2 of 3 ID scores are NaN/.test(e.message),
  );
  assert.throws(
    () => oodMetrics([1], [NaN, 2]),
    (e: unknown) => e instanceof OodgenError && /1 of 2 OoD scores are NaN/.test(e.message),
  );
  assert.throws(() => rocCurve([NaN], [1]), OodgenError);
  assert.throws(() => bootstrapMetrics([1], [NaN]), OodgenError);
});

interface Fixture {
  sklearn: string;
  cases: { name: string; id: number[]; ood: number[]; expected: Record<MetricName, number> }[];
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/metrics.json', import.meta.url), 'utf8')) as Fixture;

test('fixture covers ties, imbalance and integer scores', () => {
  // Guards against the fixture silently shrinking to easy cases.
  assert.ok(fixture.cases.length >= 10);
  const names = fixture.cases.map((c) => c.name);
  for (const want of ['heavy_ties_5_levels', 'integer_poisson', 'unbalanced_few_ood', 'unbalanced_few_id', 'diagonal_ties']) {
    assert.ok(names.includes(want), `missing fixture case ${want}`);
  }
});

for (const c of fixture.cases) {
  test(`agrees with scikit-learn ${fixture.sklearn}: ${c.name}`, () => {
    const m = oodMetrics(c.id, c.ood);
    for (const name of METRIC_NAMES) close(m[name], c.expected[name], 1e-6, `${c.name} ${name}`);
    assert.equal(m.nId, c.id.length);
    assert.equal(m.nOod, c.ood.length);
    // Swapping the roles and negating is the same problem seen from the ID side.
    const s = oodMetrics(c.ood.map((x) => -x), c.id.map((x) => -x));
    close(s.AUROC, m.AUROC, 1e-12, 'symmetric AUROC');
    close(s['AUPR-OUT'], m['AUPR-IN'], 1e-12, 'AUPR-IN = swapped AUPR-OUT');
  });
}

test('rocCurve: starts at the origin, ends at (1,1), monotone, one point per distinct score', () => {
  const id = [0.1, 0.4, 0.4, 0.8];
  const ood = [0.4, 0.8, 0.9];
  const r = rocCurve(id, ood);
  assert.deepEqual(r.thresholds, [Infinity, 0.9, 0.8, 0.4, 0.1]);
  assert.deepEqual(r.tpr, [0, 1 / 3, 2 / 3, 1, 1]);
  assert.deepEqual(r.fpr, [0, 0, 1 / 4, 3 / 4, 1]);
  // Trapezoid area of the grouped curve is the tie-aware AUROC.
  let area = 0;
  for (let i = 1; i < r.fpr.length; i++) area += (r.fpr[i]! - r.fpr[i - 1]!) * (r.tpr[i]! + r.tpr[i - 1]!) / 2;
  close(area, oodMetrics(id, ood).AUROC, 1e-15, 'area');
});

function gaussians(nId: number, nOod: number, shift: number, seed: number) {
  const rng = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  return {
    id: Float64Array.from({ length: nId }, normal),
    ood: Float64Array.from({ length: nOod }, () => normal() + shift),
  };
}

test('bootstrap: seeded, reproducible, intervals bracket the point estimate', () => {
  const { id, ood } = gaussians(400, 300, 1, 1);
  const a = bootstrapMetrics(id, ood, { reps: 300, seed: 7 });
  const b = bootstrapMetrics(id, ood, { reps: 300, seed: 7 });
  const c = bootstrapMetrics(id, ood, { reps: 300, seed: 8 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.AUROC, c.AUROC);
  const point = oodMetrics(id, ood);
  for (const name of METRIC_NAMES) {
    assert.equal(a[name].value, point[name]);
    assert.ok(a[name].low <= a[name].value && a[name].value <= a[name].high, `${name} interval ${JSON.stringify(a[name])}`);
    assert.ok(a[name].high - a[name].low > 0, `${name} interval is degenerate`);
  }
  assert.equal(a.reps, 300);
  assert.equal(a.alpha, 0.05);
});

test('bootstrap: interval width matches the known AUROC standard error', () => {
  // Hanley & McNeil (1982) standard error of AUROC; the 95% percentile interval should be about
  // 2 * 1.96 * SE wide. Catches resampling bugs (e.g. pooled or unresampled sides).
  const { id, ood } = gaussians(500, 500, 1, 3);
  const bs = bootstrapMetrics(id, ood, { reps: 1000, seed: 1 });
  const A = bs.AUROC.value;
  const q1 = A / (2 - A);
  const q2 = (2 * A * A) / (1 + A);
  const se = Math.sqrt((A * (1 - A) + (500 - 1) * (q1 - A * A) + (500 - 1) * (q2 - A * A)) / (500 * 500));
  const width = bs.AUROC.high - bs.AUROC.low;
  assert.ok(width > 0.75 * 2 * 1.96 * se && width < 1.25 * 2 * 1.96 * se, `width ${width} vs ${2 * 1.96 * se}`);
});

test('bootstrap: bounds are the alpha/2 and 1-alpha/2 quantiles of the replicates', () => {
  const { id, ood } = gaussians(200, 150, 0.8, 6);
  const bs = bootstrapMetrics(id, ood, { reps: 401, seed: 5, alpha: 0.1, keepReplicates: true });
  for (const name of METRIC_NAMES) {
    const r = bs.replicates![name];
    assert.equal(r.length, 401);
    // With 401 replicates, the 5% and 95% quantiles are order statistics 20 and 380 (0-based).
    const sorted = r.slice().sort();
    assert.equal(bs[name].low, sorted[20]);
    assert.equal(bs[name].high, sorted[380]);
  }
  assert.equal(bootstrapMetrics(id, ood, { reps: 10 }).replicates, undefined);
});

test('bootstrap: perfect separation stays perfect in every replicate', () => {
  const bs = bootstrapMetrics([0, 1, 2, 2], [5, 6, 7], { reps: 200, seed: 2 });
  assert.deepEqual(bs.AUROC, { value: 1, low: 1, high: 1 });
  assert.deepEqual(bs.FPR95TPR, { value: 0, low: 0, high: 0 });
});

test('bootstrap: rejects bad options', () => {
  assert.throws(() => bootstrapMetrics([0], [1], { reps: 0 }), OodgenError);
  assert.throws(() => bootstrapMetrics([0], [1], { reps: 2.5 }), OodgenError);
  assert.throws(() => bootstrapMetrics([0], [1], { alpha: 1 }), OodgenError);
  assert.throws(() => bootstrapMetrics([0], [1], { seed: 0.5 }), OodgenError);
});
