// Exact oracle without PyTorch: a linear-Gaussian latent model whose log p(x) is known in closed form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, liveTensors, randn, Generator, mul, add } from '../../src/engine/index.js';
import {
  iwaeLogLikelihood, elbo, elboComponents, IwaeDetector, ElboDetector, BpdDetector, bitsPerDim, createDetector,
  scoreDataset,
} from '../../src/scores/index.js';
import { LinearGaussianModel, SPEC, exactLogPx, IMAGE_SHAPE } from './toy-models.js';

const B = 5;
function inputs(seed: number) {
  return tidy(() => add(mul(randn([B, ...IMAGE_SHAPE], { generator: Generator.cpu(seed) }), 0.7), 0.2));
}
const exact = (x: number[]) => Array.from({ length: B }, (_, i) => exactLogPx(SPEC, x.slice(i * 6, i * 6 + 6)));

test('exact posterior: ELBO, IWAE (K = 1, 5, 50) and components all equal the closed-form log p(x)', () => {
  const start = liveTensors();
  const model = new LinearGaussianModel(SPEC);
  tidy(() => {
    const x = inputs(1);
    const truth = exact(x.toArray());
    for (const k of [1, 5, 50]) {
      const ll = iwaeLogLikelihood(model, x, { k, seed: k }).logLikelihood.toArray();
      ll.forEach((v, i) => assert.ok(Math.abs(v - truth[i]!) < 2e-4, `K=${k} image ${i}: ${v} vs ${truth[i]}`));
    }
    // The analytic-KL ELBO is exact only in expectation (its reconstruction term is a Monte-Carlo average).
    const e = elbo(model, x, { seed: 3, samples: 4000 });
    e.elbo.toArray().forEach((v, i) => assert.ok(Math.abs(v - truth[i]!) < 0.05, `ELBO ${v} vs ${truth[i]}`));
    const c = elboComponents(model, x, { seed: 3, samples: 4000 });
    const sumc = add(add(c.reconstruction, c.prior), c.entropy).toArray();
    sumc.forEach((v, i) => assert.ok(Math.abs(v - e.elbo.toArray()[i]!) < 1e-4, 'components sum to the ELBO'));
  });
  model.dispose();
  assert.equal(liveTensors(), start);
});

test('perturbed posterior: ELBO < log p(x), E[IWAE] increases with K and converges to log p(x)', () => {
  const start = liveTensors();
  const model = new LinearGaussianModel(SPEC, { perturb: 0.2 });
  tidy(() => {
    const x = inputs(2);
    const truth = exact(x.toArray());
    // Expectations over many noise draws (the estimators are random).
    // Mean and standard error over independent noise draws.
    const avg = (k: number, reps: number) => {
      const acc = new Float64Array(B), acc2 = new Float64Array(B);
      for (let r = 0; r < reps; r++) {
        const v = tidy(() => iwaeLogLikelihood(model, x, { k, seed: 100 + r }).logLikelihood.toArray());
        v.forEach((y, i) => { acc[i] += y / reps; acc2[i] += (y * y) / reps; });
      }
      return { m: Array.from(acc), se: Array.from(acc, (m, i) => Math.sqrt(Math.max(0, acc2[i]! - m * m) / reps)) };
    };
    const a1 = avg(1, 400), a5 = avg(5, 100), a50 = avg(50, 40);
    const [e1, e5, e50] = [a1.m, a5.m, a50.m];
    const big = tidy(() => iwaeLogLikelihood(model, x, { k: 20000, seed: 9 }).logLikelihood.toArray());
    for (let i = 0; i < B; i++) {
      assert.ok(e1[i]! < truth[i]! - 0.05, `ELBO ${e1[i]} should be well below log p(x) ${truth[i]}`);
      const tol = (a: { se: number[] }, b: { se: number[] }) => 4 * Math.hypot(a.se[i]!, b.se[i]!);
      assert.ok(e1[i]! < e5[i]! + tol(a1, a5) && e5[i]! < e50[i]! + tol(a5, a50), `E[L_1] ${e1[i]} <= E[L_5] ${e5[i]} <= E[L_50] ${e50[i]}`);
      assert.ok(e50[i]! <= truth[i]! + 4 * a50.se[i]!, `E[L_50] ${e50[i]} <= log p(x) ${truth[i]} (se ${a50.se[i]})`);
      assert.ok(Math.abs(big[i]! - truth[i]!) < 0.02, `L_20000 ${big[i]} ~ log p(x) ${truth[i]}`);
    }
    // Analytic-KL ELBO averaged over noise equals E[L_1] within MC error.
    const el = elbo(model, x, { seed: 500, samples: 4000 }).elbo.toArray();
    for (let i = 0; i < B; i++) assert.ok(Math.abs(el[i]! - e1[i]!) < 4 * a1.se[i]! + 0.03, `ELBO ${el[i]} vs E[L_1] ${e1[i]} (se ${a1.se[i]})`);
  });
  model.dispose();
  assert.equal(liveTensors(), start);
});

test('chunking over K does not change IWAE when the noise is fixed; a seed makes it reproducible', () => {
  const start = liveTensors();
  const model = new LinearGaussianModel(SPEC, { perturb: 0.3 });
  tidy(() => {
    const x = inputs(3);
    const eps = randn([50, B, 2], { generator: Generator.cpu(4) });
    const whole = iwaeLogLikelihood(model, x, { k: 50, eps, decodeBatch: 10_000 }).logLikelihood.toArray();
    const chunked = iwaeLogLikelihood(model, x, { k: 50, eps, decodeBatch: 7 }).logLikelihood.toArray();
    whole.forEach((v, i) => assert.ok(Math.abs(v - chunked[i]!) < 1e-4));
    const a = new IwaeDetector(model, { k: 50, seed: 5 }).score(x);
    const b = new IwaeDetector(model, { k: 50, seed: 5 }).score(x);
    assert.deepEqual(a, b);
    const c = new IwaeDetector(model, { k: 50, seed: 6 }).score(x);
    assert.notDeepEqual(a, c);
  });
  model.dispose();
  assert.equal(liveTensors(), start);
});

test('scores are -log p (higher = more OoD) and keep the raw log-likelihood in columns', () => {
  const start = liveTensors();
  const model = new LinearGaussianModel(SPEC);
  tidy(() => {
    const x = inputs(4);
    const truth = exact(x.toArray());
    const r = new IwaeDetector(model, { k: 5 }).evaluate(x);
    r.score.forEach((s, i) => assert.ok(Math.abs(s + truth[i]!) < 2e-4));
    r.columns.loglik!.forEach((v, i) => assert.ok(Math.abs(v - truth[i]!) < 2e-4));
    const e = new ElboDetector(model).evaluate(x);
    e.score.forEach((s, i) => assert.ok(Math.abs(s + e.columns.elbo![i]!) < 1e-6));
    const c = createDetector('components', model).evaluate(x);
    for (const k of ['reconstruction', 'prior', 'entropy', 'kl', 'elbo']) assert.equal(c.columns[k]!.length, B, k);
  });
  model.dispose();
  assert.equal(liveTensors(), start);
});

test('bitsPerDim: -log2 P / D of a log-probability', () => {
  // Probability 2^-8 for each of 10 dims: 8 bits/dim; probability 1: 0 bits/dim.
  assert.ok(Math.abs(bitsPerDim(-10 * 8 * Math.LN2, 10) - 8) < 1e-12);
  assert.ok(Math.abs(bitsPerDim(-784 * Math.LN2, 784) - 1) < 1e-12);
});

test('scoreDataset over a set equals the per-batch scores; no tensors leak', () => {
  const model = new LinearGaussianModel(SPEC);
  const n = 23;
  const data = tidy(() => add(mul(randn([n, ...IMAGE_SHAPE], { generator: Generator.cpu(8) }), 0.5), 0.3).toFloat32Array());
  const start = liveTensors();
  const r = scoreDataset(createDetector('iwae', model, { k: 3 }), { images: data, shape: [n, 1, 2, 3] }, { batchSize: 10 });
  assert.equal(liveTensors(), start);
  assert.equal(r.score.length, n);
  assert.match(r.batchingNote, /one dataset only/);
  for (let i = 0; i < n; i++) {
    const truth = exactLogPx(SPEC, Array.from(data.subarray(i * 6, i * 6 + 6)));
    assert.ok(Math.abs(r.score[i]! + truth) < 2e-4, `image ${i}: ${r.score[i]} vs ${-truth}`);
    assert.ok(Math.abs(r.columns.loglik![i]! - truth) < 2e-4);
  }
  model.dispose();
  void tensor;
});
