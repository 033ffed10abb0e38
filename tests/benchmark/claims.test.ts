// Claims C1-C8 (src/benchmark/claims.ts) on synthetic benchmark results: each rule gives "reproduced" when its
// threshold is met, "not reproduced" when not, and "not run (missing: ...)" naming what is absent; C6's statistic
// against a closed form; the Wilson interval against SciPy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLAIM_RULES, evaluateClaims, gapDominance, type ClaimInput, type ClaimResult } from '../../src/benchmark/claims.js';
import { wilson, type LatentUnitResult } from '../../src/benchmark/latent.js';
import { f32ToB64 } from '../../src/benchmark/cache.js';
import type { BenchmarkResult, UnitResult } from '../../src/benchmark/run.js';
import { resultsMarkdown } from '../../src/benchmark/report.js';
import { parseSuite } from '../../src/benchmark/suite.js';
import { PY, ROOT } from '../helpers/python.js';

const scipySkip = existsSync(PY) && spawnSync(PY, ['-c', 'import scipy.stats'], { stdio: 'ignore' }).status === 0 ? false : `needs ${PY} with scipy`;

type Ci = [number, number];
const P = 'fmnist-mnist';

/** A detector unit with one report row (and optional per-sample series for other rows). */
function unit(model: string, detector: string, score: string, bn: string, auroc: number, ci: Ci | null, series: UnitResult['series'] = []): UnitResult {
  const c = ci ? { AUROC: ci, 'AUPR-IN': ci, 'AUPR-OUT': ci, FPR95TPR: ci } : null;
  return {
    format: 1, key: `${model}-${detector}-${bn}`, experiment: 'x', model, detector, granularity: 'sample', bn, id: 'fashion-mnist:test', pairs: [{ name: P, id: 'fashion-mnist:test', ood: 'mnist:test' }],
    limit: 100, series, settings: {}, fitted: null, seconds: 0,
    rows: [{ experiment: 'x', model, detector, granularity: 'sample', pair: P, id: 'fashion-mnist:test', score, bn: bn as 'eval', ood: 'mnist:test', AUROC: auroc, 'AUPR-IN': 0.5, 'AUPR-OUT': 0.5, FPR95TPR: 0.5, ci: c, nId: 100, nOod: 100, meanId: 0, meanOod: 0, meanOf: score }],
  };
}

/** A components unit whose stored series give reconstruction and KL gaps (OoD mean - ID mean) of dRec and dKl. */
function components(model: string, dRec: number, dKl: number): UnitResult {
  const n = 50;
  // Spread so the bootstrap has something to resample; the means are exact (symmetric offsets).
  const around = (m: number) => Float32Array.from({ length: n }, (_, i) => m + (i % 2 ? 0.5 : -0.5));
  const recId = around(-100), recOod = around(-100 + dRec), klId = around(20), klOod = around(20 + dKl);
  const neg = (a: Float32Array) => a.map((v) => -v);
  const u = unit(model, 'components', '-reconstruction', 'eval', 0.5, [0.45, 0.55], [
    { row: '-reconstruction', id: f32ToB64(neg(recId)), ood: { [P]: f32ToB64(neg(recOod)) } },
    { row: 'kl', id: f32ToB64(klId), ood: { [P]: f32ToB64(klOod) } },
  ]);
  return u;
}

const prop = (k: number, n: number) => wilson(k, n);

function latent(model: string, pos: number, neg: number, moved: number, unmoved: number): LatentUnitResult {
  return {
    format: 1, kind: 'latent', key: model, experiment: 'fmnist-latent', model, bn: 'eval', idTrain: 'fashion-mnist:train', id: 'fashion-mnist:test', limit: 1000,
    pairs: [{
      pair: P, ood: 'mnist:test', fit: { positive: 1000, negative: 500 }, positive: prop(pos, 1000), negative: prop(neg, 500), auroc: 0.99, oneClassAuroc: 0.9,
      pixels: { positive: prop(960, 1000), negative: prop(480, 500) }, likelihoodAuroc: 0.5,
      move: { depth: 1.2, moved: prop(moved, 400), unmoved: prop(unmoved, 400), pixels: { moved: prop(300, 400), unmoved: prop(40, 400) } }, svm: { iterations: 100, converged: true },
    }],
    control: { positive: prop(500, 1000), negative: prop(500, 1000), auroc: 0.5 }, seconds: 1,
  };
}

/** Every claim's results, each meeting its rule. */
function allGood(): ClaimInput {
  return {
    units: [
      unit('fm-vae-gauss', 'elbo', 'elbo', 'eval', 0.97, [0.965, 0.975]),
      unit('fm-vae-gauss', 'elbo', 'elbo', 'enc', 0.99, [0.985, 0.995]),
      unit('fm-vae-cat', 'elbo', 'elbo', 'eval', 0.12, [0.1, 0.15]),
      unit('fm-vae-cat', 'elbo', 'elbo', 'enc', 0.32, [0.28, 0.37]),
      unit('fm-ae', 'rec', 'rec', 'eval', 0.3, [0.27, 0.33]),
      unit('fm-sintro', 'elbo', 'elbo', 'eval', 0.95, [0.94, 0.96]),
      components('fm-vae-gauss', -60, 5), components('fm-vae-cat', 900, -40), components('fm-vae-bern', 300, 10),
    ],
    latent: [latent('fm-vae-gauss', 995, 490, 380, 20), latent('fm-vae-cat', 990, 485, 300, 30)],
    skipped: [],
  };
}

const byId = (c: ClaimResult[]) => Object.fromEntries(c.map((x) => [x.id, x]));

test('claims: every rule reproduced when its threshold is met, with the numbers', () => {
  const c = byId(evaluateClaims(allGood()));
  assert.deepEqual(Object.keys(c), ['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'C8']);
  for (const x of Object.values(c)) {
    assert.equal(x.verdict, 'reproduced', `${x.id}: ${x.evidence}`);
    assert.equal(x.label, 'reproduced');
    assert.deepEqual(x.missing, []);
    assert.ok(x.rule.length > 20 && x.evidence.length > 10);
  }
  assert.equal(c.C1!.evidence, 'fm-vae-gauss: -ELBO AUROC 0.970 [0.965, 0.975] (100 / 100 images)');
  assert.equal(c.C5!.evidence, 'fm-vae-gauss: AUROC BN enc 0.990 [0.985, 0.995] vs BN eval 0.970 [0.965, 0.975]; fm-vae-cat: AUROC BN enc 0.320 [0.280, 0.370] vs BN eval 0.120 [0.100, 0.150]');
  assert.match(c.C6!.evidence, /^fm-vae-gauss: D_rec -60\.0 nats, D_kl 5\.0 nats, \|D_rec\| - \|D_kl\| 55\.0 \[/);
  assert.match(c.C7!.evidence, /^fm-vae-gauss: positive 99\.5% \[[0-9.]+%, [0-9.]+%\] of 1000, negative 98\.0% /);
  assert.match(c.C8!.evidence, /fm-vae-gauss: on the ID side after the move 95\.0% .* of 400, without it 5\.0% .*; pixel-space judge \(not the rule\): 75\.0% moved vs 10\.0% unmoved/);
});

test('claims: each rule not reproduced when its threshold is missed', () => {
  const r = allGood();
  const set = (model: string, bn: string, auroc: number, ci: Ci) => {
    const i = r.units.findIndex((u) => u.model === model && u.detector !== 'components' && u.bn === bn);
    r.units[i] = unit(model, r.units[i]!.detector, r.units[i]!.rows[0]!.score, bn, auroc, ci);
  };
  set('fm-vae-gauss', 'eval', 0.55, [0.49, 0.6]); // C1: the interval reaches 0.5
  set('fm-vae-cat', 'eval', 0.48, [0.44, 0.52]); // C2: reaches 0.5 (C5: enc [0.28, 0.37] now below eval)
  set('fm-ae', 'eval', 0.65, [0.6, 0.7]); // C3: reconstruction error flags MNIST
  set('fm-sintro', 'eval', 0.4, [0.35, 0.45]); // C4: OoD more likely
  r.units[r.units.findIndex((u) => u.model === 'fm-vae-cat' && u.detector === 'components')] = components('fm-vae-cat', 10, -40); // C6: KL gap larger
  r.latent[1] = latent('fm-vae-cat', 990, 430, 300, 30); // C7: negative accuracy 86%
  r.latent[0] = latent('fm-vae-gauss', 995, 490, 180, 20); // C8: 45% moved
  const c = byId(evaluateClaims(r));
  for (const x of Object.values(c)) assert.equal(x.verdict, 'not reproduced', `${x.id}: ${x.evidence}`);
  assert.match(c.C6!.evidence, /fm-vae-gauss: .*; fm-vae-cat: D_rec 10\.0 nats, D_kl -40\.0 nats, \|D_rec\| - \|D_kl\| -30\.0/);
  // C5 with overlapping intervals (enc above eval, but not beyond the intervals) is not reproduced either.
  const r5: ClaimInput = { units: [unit('fm-vae-cat', 'elbo', 'elbo', 'eval', 0.12, [0.1, 0.2]), unit('fm-vae-cat', 'elbo', 'elbo', 'enc', 0.22, [0.18, 0.26])], latent: [], skipped: [] };
  assert.equal(byId(evaluateClaims(r5)).C5!.verdict, 'not reproduced');
  // C8: more than half moved but the unmoved round trip is as high: the move did not do it.
  const r8: ClaimInput = { units: [], latent: [latent('fm-vae-gauss', 995, 490, 300, 290)], skipped: [] };
  assert.equal(byId(evaluateClaims(r8)).C8!.verdict, 'not reproduced');
});

test('claims: not run, naming the missing zoo model or unit; partly run multi-model rules say what did not run', () => {
  const r: ClaimInput = {
    units: [components('fm-vae-gauss', -60, 5), unit('fm-vae-cat', 'elbo', 'elbo', 'eval', 0.12, [0.1, 0.15])],
    latent: [],
    skipped: [
      { what: 'fmnist-sintro: model fm-sintro', why: "zoo model 'fm-sintro' is not in /z (no model.safetensors); train it" },
      { what: 'fmnist-ae: model fm-ae', why: "zoo model 'fm-ae' is not in /z" },
      { what: 'fmnist-latent: fm-vae-gauss', why: 'its training data in-memory (the ID codes the SVM fits on) is not here' },
    ],
  };
  const c = byId(evaluateClaims(r));
  assert.equal(c.C4!.verdict, 'not run');
  assert.equal(c.C4!.label, 'not run (missing: zoo/fm-sintro)');
  assert.equal(c.C3!.label, 'not run (missing: zoo/fm-ae)');
  assert.equal(c.C1!.label, 'not run (missing: fm-vae-gauss / elbo / bn=eval / fmnist-mnist (not in this suite))');
  assert.equal(c.C5!.label, 'not run (missing: fm-vae-gauss / elbo / bn=eval / fmnist-mnist (not in this suite); fm-vae-cat / elbo / bn=enc / fmnist-mnist (not in this suite))');
  assert.match(c.C7!.label, /^not run \(missing: fm-vae-gauss \/ latent \/ fmnist-mnist \(its training data in-memory .*\); fm-vae-cat \/ latent \/ fmnist-mnist \(not in this suite\)\)$/);
  // C6 ran on one of its three models: the verdict rests on it, and the evidence lists the two that did not run.
  assert.equal(c.C6!.verdict, 'reproduced');
  assert.deepEqual(c.C6!.missing.map((m) => m.split(' ')[0]), ['fm-vae-cat', 'fm-vae-bern']);
  assert.match(c.C6!.evidence, /; not run: fm-vae-cat \/ components .*; fm-vae-bern \/ components/);
  assert.equal(c.C2!.verdict, 'reproduced');
  // Nothing at all: every claim not run.
  assert.ok(evaluateClaims({ units: [], latent: [], skipped: [] }).every((x) => x.verdict === 'not run' && x.label.startsWith('not run (missing: ')));
});

test('claims: without bootstrap intervals the point estimate decides, and the evidence says so', () => {
  const r: ClaimInput = { units: [unit('fm-vae-gauss', 'elbo', 'elbo', 'eval', 0.51, null)], latent: [], skipped: [] };
  const c1 = byId(evaluateClaims(r)).C1!;
  assert.equal(c1.verdict, 'reproduced');
  assert.match(c1.evidence, /AUROC 0\.510 \(no interval: point decides\)/);
});

test('C6 statistic: gaps of the means (closed form) and a bootstrap interval around them', () => {
  // Constant sets: D_rec = -2 - (-10) = 8, D_kl = 6 - 5 = 1, statistic 7; every resample gives 7.
  const k = (v: number, n: number) => new Float32Array(n).fill(v);
  const g = gapDominance({ id: k(-10, 20), ood: k(-2, 30) }, { id: k(5, 20), ood: k(6, 30) }, 200, 3);
  assert.deepEqual([g.dRec, g.dKl, g.stat], [8, 1, 7]);
  assert.deepEqual(g.ci, [7, 7]);
  // Spread: the interval holds the point and is seeded (same seed, same interval).
  const sp = (m: number, n: number) => Float32Array.from({ length: n }, (_, i) => m + ((i * 7919) % 13) - 6);
  const a = gapDominance({ id: sp(-10, 40), ood: sp(-2, 40) }, { id: sp(5, 40), ood: sp(6, 40) }, 500, 1);
  const b = gapDominance({ id: sp(-10, 40), ood: sp(-2, 40) }, { id: sp(5, 40), ood: sp(6, 40) }, 500, 1);
  assert.ok(Math.abs(a.stat - 7) < 1e-9 && a.ci[0] < 7 && 7 < a.ci[1], JSON.stringify(a));
  assert.deepEqual(a.ci, b.ci);
});

test('claim rules: one per claim C1-C8, each stating its rule', () => {
  assert.deepEqual(CLAIM_RULES.map((r) => r.id), ['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'C8']);
});

test('wilson: 95% Wilson score interval equals SciPy\'s', { skip: scipySkip }, () => {
  const r = spawnSync(PY, [join(ROOT, 'tests', 'fixtures', 'wilson_oracle.py')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const cases = JSON.parse(r.stdout) as [number, number, number, number][];
  assert.ok(cases.length >= 5);
  for (const [k, n, low, high] of cases) {
    const w = wilson(k, n);
    assert.ok(Math.abs(w.ci[0] - low) < 1e-12 && Math.abs(w.ci[1] - high) < 1e-12, `${k}/${n}: ${w.ci} vs ${low}, ${high}`);
    assert.equal(w.p, k / n);
  }
  assert.throws(() => wilson(3, 2), /0 <= k <= n/);
  assert.deepEqual(wilson(0, 0).ci, [0, 1]);
});

test('results.md: a suite built for something else lists only the claims it ran; seed and claims list all eight', () => {
  const units = [components('fm-vae-gauss', -60, 5), unit('fm-vae-cat', 'elbo', 'elbo', 'eval', 0.12, [0.1, 0.15])];
  const md = (name: string, skipped: { what: string; why: string }[] = []) => resultsMarkdown({
    suite: parseSuite({ name, experiments: [{ name: 'x', models: ['fm-vae-gauss'], detectors: ['elbo'], bn: ['eval'], pairs: ['fmnist-mnist'] }] }, 'test'),
    units, latent: [], skipped, counts: { planned: 2, computed: 2, cached: 0 }, interrupted: false, models: [], runs: [],
  } as unknown as BenchmarkResult, 'x');
  const table = md('fm-detectors');
  assert.deepEqual([...table.matchAll(/^\| (C[1-8]) /gm)].map((m) => m[1]), ['C2', 'C6']);
  assert.match(table, /C1, C3, C4, C5, C7, C8: not run by this suite/);
  // A claim the suite tried but could not run (its zoo model absent) stays listed, with the reason.
  const tried = md('fm-detectors', [{ what: 'x: model fm-sintro', why: "zoo model 'fm-sintro' is not in /z" }]);
  assert.deepEqual([...tried.matchAll(/^\| (C[1-8]) /gm)].map((m) => m[1]), ['C2', 'C4', 'C6']);
  assert.match(tried, /\| C4 +\| .* \| not run \(missing: zoo\/fm-sintro\) +\|/);
  for (const name of ['seed', 'claims']) {
    assert.deepEqual([...md(name).matchAll(/^\| (C[1-8]) /gm)].map((m) => m[1]), ['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'C8'], name);
  }
});
