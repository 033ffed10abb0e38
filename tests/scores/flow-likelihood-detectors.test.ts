// Issue 16 item 5: the likelihood detectors (typicality, its batch test, input complexity, WAIC, likelihood ratio, DoSE)
// run on a flow with its exact log-likelihood, as the literature reports them on Glow, instead of only on VAEs
// through the IWAE bound. Oracle: the closed forms of each paper on log p(x) taken from the Glow itself (logProb),
// and exact-nll's bits/dim for input complexity's model term.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, liveTensors, rand, tidy, noGrad, fromTypedArray } from '../../src/engine/index.js';
import { train } from '../../src/train/trainer.js';
import { loadRun } from '../../src/train/run.js';
import { createDetector, detectorsFor, scoreDataset } from '../../src/scores/index.js';
import { createModel } from '../../src/models/factory.js';
import { OodgenError } from '../../src/errors.js';
import type { ImageSet } from '../../src/data/types.js';
import type { GenerativeModel } from '../../src/models/types.js';
import { compressedBitsSync } from '../../src/scores/input-complexity.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('flow-lik');
test.after(() => rmSync(dir, { recursive: true, force: true }));

function images(n: number, seed: number): ImageSet {
  const t = rand([n, 1, 32, 32], { generator: Generator.cpu(seed) });
  const v = t.toFloat32Array();
  t.dispose();
  for (let i = 0; i < v.length; i++) v[i] = Math.round(v[i]! * 255) / 255;
  return { images: v, shape: [n, 1, 32, 32], name: `random-${seed}`, source: 'test' };
}

const GLOW = { kind: 'glow', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 1, width: 8, flow: { levels: 2, steps: 1, width: 8, lu: true } } as const;

async function glow(name: string, seed: number): Promise<GenerativeModel> {
  const out = join(dir, name);
  await train({ out, model: { ...GLOW }, trainSet: images(24, 70 + seed), maxSteps: 2, batchSize: 8, valLimit: 8, progress: 'none', grids: false, seed });
  return loadRun(out).model;
}

const logp = (m: GenerativeModel, s: ImageSet): Float32Array =>
  tidy(() => noGrad(() => m.logProb!(fromTypedArray(s.images as Float32Array, s.shape)).toFloat32Array()));

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('a Glow gets every single-model likelihood detector (exact log p), and none that needs an encoder', async () => {
  const start = liveTensors();
  const g = await glow('g0', 0);
  const names = detectorsFor(g);
  for (const d of ['exact-nll', 'typicality', 'typicality-batch', 'input-complexity', 'dose']) assert.ok(names.includes(d), d);
  for (const d of ['elbo', 'iwae', 'components', 'rec', 'lpath', 'likelihood-regret', 'mahalanobis-latent']) assert.ok(!names.includes(d), d);

  const fitSet = images(16, 1), evalSet = images(10, 2);
  const llFit = logp(g, fitSet), llEval = logp(g, evalSet);
  // typicality (Nalisnick et al. 2019): H = mean -log p over the even positions of the fitting set; s = |-log p - H|.
  let h = 0, n = 0;
  for (let i = 0; i < llFit.length; i += 2) { h -= llFit[i]!; n++; }
  h /= n;
  const typ = createDetector('typicality', g, { k: 3 });
  await typ.fit!({ images: fitSet.images, shape: fitSet.shape, name: 'fit' });
  const r = scoreDataset(typ, { images: evalSet.images, shape: evalSet.shape }, { batchSize: 4 });
  r.columns.loglik!.forEach((v, i) => close(v, llEval[i]!, 1e-5, `typicality loglik[${i}]`));
  r.score.forEach((v, i) => close(v, Math.abs(-llEval[i]! - h), 1e-4, `typicality[${i}]`));
  assert.equal(typ.settings().estimator, 'exact');
  // the batch test on M = 2 images: |mean -log p - H|
  const tb = createDetector('typicality-batch', g, { bootstrap: 100 });
  await tb.fit!({ images: fitSet.images, shape: fitSet.shape, name: 'fit' });
  const two = fromTypedArray((evalSet.images as Float32Array).slice(0, 2 * 1024), [2, 1, 32, 32]);
  const stat = tb.evaluate(two).score[0]!;
  two.dispose();
  close(stat, Math.abs(-(llEval[0]! + llEval[1]!) / 2 - h), 1e-4, 'typicality-batch statistic');

  // input complexity (Serra et al. 2020): S = bpd - L/D with the flow's bits/dim of the 8-bit image, which is
  // exact-nll's bpd column (-log2 p / D + 8), computed by another path.
  const ic = createDetector('input-complexity', g, {});
  const nll = createDetector('exact-nll', g, {});
  const ri = scoreDataset(ic, { images: evalSet.images, shape: evalSet.shape }, { batchSize: 5 });
  const rn = scoreDataset(nll, { images: evalSet.images, shape: evalSet.shape }, { batchSize: 5 });
  const x = fromTypedArray(evalSet.images as Float32Array, evalSet.shape);
  const bits = compressedBitsSync(x, 'png');
  x.dispose();
  ri.columns.bpd!.forEach((v, i) => close(v, rn.columns.bpd![i]!, 1e-5, `input-complexity bpd[${i}]`));
  ri.score.forEach((v, i) => close(v, rn.columns.bpd![i]! - bits[i]! / 1024, 1e-5, `input-complexity S[${i}]`));
  assert.match(ic.description, /exact log p/);

  // DoSE (Morningstar et al. 2021) on a flow: T = (log p(x), log p(z), log |det J|), one 1-D Gaussian KDE per
  // statistic with Scott's bandwidth sigma (ddof 1) n^(-1/5), score = -sum_j log KDE_j(T_j(x)); written out here.
  const terms = (s: ImageSet) => tidy(() => noGrad(() => {
    const t = g.logProbTerms!(fromTypedArray(s.images as Float32Array, s.shape));
    return { logpz: t.logpz.toFloat32Array(), logdet: t.logdet.toFloat32Array() };
  }));
  const tf = terms(fitSet), te = terms(evalSet);
  llEval.forEach((v, i) => close(te.logpz[i]! + te.logdet[i]!, v, 1e-5, `log p(z) + log|det J| = log p(x) [${i}]`));
  const kdeLog = (pts: number[], x: number) => {
    const n = pts.length, mean = pts.reduce((a, b) => a + b, 0) / n;
    const h = Math.sqrt(pts.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) * n ** -0.2;
    return Math.log(pts.reduce((a, p) => a + Math.exp(-0.5 * ((x - p) / h) ** 2), 0) / (n * h * Math.sqrt(2 * Math.PI)));
  };
  const dose = createDetector('dose', g, {});
  await dose.fit!({ images: fitSet.images, shape: fitSet.shape, name: 'fit' });
  const rd = scoreDataset(dose, { images: evalSet.images, shape: evalSet.shape }, { batchSize: 4 });
  const fitCols = { loglik: Array.from(llFit), logpz: Array.from(tf.logpz), logdet: Array.from(tf.logdet) };
  rd.score.forEach((v, i) => {
    const want = -(kdeLog(fitCols.loglik, llEval[i]!) + kdeLog(fitCols.logpz, te.logpz[i]!) + kdeLog(fitCols.logdet, te.logdet[i]!));
    close(v, want, 1e-3, `dose[${i}]`);
  });
  assert.deepEqual(dose.settings().stats, ['loglik', 'logpz', 'logdet']);
  // A state fitted on a VAE (its five statistics) does not load into a flow's DoSE.
  assert.throws(() => dose.loadState!({ meta: { stats: ['loglik', 'rate'], bandwidth: { loglik: 1, rate: 1 }, n: 2 }, arrays: { loglik: { data: Float64Array.of(1, 2), shape: [2] }, rate: { data: Float64Array.of(1, 2), shape: [2] } } }),
    /DoSE statistics rate are not this flow's \(loglik, logpz, logdet\)/);
  g.dispose();
  assert.equal(liveTensors(), start);
});

test('WAIC and the likelihood ratio over Glows use their exact likelihoods; mixed families are refused', async () => {
  const start = liveTensors();
  const [a, b, c] = [await glow('e0', 0), await glow('e1', 1), await glow('e2', 2)];
  const s = images(6, 3);
  const ll = [a, b, c].map((m) => logp(m, s));
  const w = createDetector('waic', [a, b, c], {});
  const rw = scoreDataset(w, { images: s.images, shape: s.shape }, { batchSize: 3 });
  rw.score.forEach((v, i) => {
    const xs = ll.map((l) => l[i]!);
    const mu = xs.reduce((p, q) => p + q, 0) / 3;
    const variance = xs.reduce((p, q) => p + (q - mu) ** 2, 0) / 3; // population variance, the paper's ensemble moment
    close(v, -(mu - variance), 1e-4, `waic[${i}]`);
  });
  const lr = createDetector('likelihood-ratio', [a, b], {});
  const rl = scoreDataset(lr, { images: s.images, shape: s.shape }, { batchSize: 3 });
  rl.score.forEach((v, i) => close(v, -(ll[0]![i]! - ll[1]![i]!), 1e-4, `llr[${i}]`));
  // A VAE and a Glow are not an ensemble, nor a model and its background.
  const vae = createModel({ kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 2, width: 4 });
  assert.throws(() => createDetector('waic', [a, vae], {}), (e: Error) => e instanceof OodgenError && /member 2 \(vae\) has a bounded \(IWAE\) likelihood, member 1 \(glow\) an exact one/.test(e.message));
  assert.throws(() => createDetector('likelihood-ratio', [a, vae], {}), (e: Error) => e instanceof OodgenError && /must be the model's family/.test(e.message));
  // An AE has no likelihood at all: the hint says what to use.
  const ae = createModel({ kind: 'ae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 2, width: 4 });
  assert.throws(() => createDetector('typicality', ae, {}), (e: Error) => e instanceof OodgenError && /needs likelihood .*use.*rec|reconstruction error \(score rec\)/.test(e.message));
  for (const m of [a, b, c, vae, ae]) m.dispose();
  assert.equal(liveTensors(), start);
});
