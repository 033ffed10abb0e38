// The field detectors through the detector contract (registry, fit on ID data, state saved under
// detectors/NAME.* and loaded again), with their second stages checked against SciPy / scikit-learn on the same
// numbers, and the model-combining detectors against closed forms of the tested IWAE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { liveTensors, tidy, type Tensor } from '../../src/engine/index.js';
import {
  createDetector, detectorNames, loadDetectorState, saveDetectorState, scoreDataset, type ImageSource,
} from '../../src/scores/index.js';
import { iwaeLogLikelihood } from '../../src/scores/iwae.js';
import { Noise } from '../../src/scores/latent.js';
import { fitDose, scoreDose, DOSE_STATS } from '../../src/scores/dose.js';
import { compressedBits } from '../../src/scores/input-complexity.js';
import { bitsPerDim } from '../../src/scores/bpd.js';
import { Rng } from '../../src/data/rng.js';
import { OodgenError } from '../../src/errors.js';
import { assertClose, blobs, exportModel, exportTensors, oracle, rows, skipNoTorch, tinyModel, tmp } from './oracle-helpers.js';

const FIELD = ['likelihood-regret', 'input-complexity', 'likelihood-ratio', 'typicality', 'typicality-batch', 'waic', 'dose', 'lpath', 'mahalanobis-latent'];

function source(x: Tensor, name: string): ImageSource {
  return { images: x.toFloat32Array(), shape: x.shape as [number, number, number, number], name };
}

const iwae = (m: Parameters<typeof iwaeLogLikelihood>[0], x: Tensor, k: number, seed: number, image = false) =>
  tidy(() => iwaeLogLikelihood(m, x, { k, eps: new Noise(seed), image }).logLikelihood.toFloat32Array());

test('every field detector is registered, and takes the number of models it declares', () => {
  for (const n of FIELD) assert.ok(detectorNames().includes(n), n);
  const m = tinyModel();
  assert.throws(() => createDetector('waic', m), (e: Error) => e instanceof OodgenError && /at least 2 models/.test(e.message));
  assert.throws(() => createDetector('likelihood-ratio', [m, m, m]), /takes 2 models/);
  assert.throws(() => createDetector('lpath', m, { secondStage: 'svm' }), /--second-stage must be copod or mahalanobis/);
  assert.throws(() => createDetector('input-complexity', m, { compressor: 'zip' }), /--compressor/);
  const ae = tinyModel({ kind: 'ae' });
  assert.throws(() => createDetector('likelihood-regret', ae), /posterior/);
  const x = blobs(2);
  assert.throws(() => createDetector('dose', m).evaluate(x), /not fitted.*oodgen fit/);
  x.dispose(); m.dispose(); ae.dispose();
});

test('mahalanobis-latent: fitted on ID codes, equals scikit-learn LedoitWolf on PyTorch codes; state round-trips', { skip: skipNoTorch }, async () => {
  const start = liveTensors();
  const dir = tmp();
  const model = tinyModel({}, 2);
  const idX = blobs(60, 3), testX = blobs(8, 4);
  const det = createDetector('mahalanobis-latent', model);
  await det.fit!(source(idX, 'blobs:train'), { batchSize: 16 });
  const mine = det.score(testX);
  const w = exportModel(dir, 'm', model);
  const ref = oracle(dir, { cmd: 'encode-mu', ...w, train: exportTensors(dir, 'xt', { x: idX }), test: exportTensors(dir, 'xs', { x: testX }) });
  assertClose(mine, ref.score!, { rel: 1e-3, abs: 1e-3 }, 'mahalanobis');
  saveDetectorState(dir, det);
  assert.ok(existsSync(join(dir, 'detectors', 'mahalanobis-latent.json')) && existsSync(join(dir, 'detectors', 'mahalanobis-latent.safetensors')));
  const again = createDetector('mahalanobis-latent', model);
  assert.equal(loadDetectorState(dir, again), true);
  assert.deepEqual([...again.score(testX)], [...mine]);
  const other = tinyModel({ zDim: 6 }, 2);
  assert.throws(() => loadDetectorState(dir, createDetector('mahalanobis-latent', other)), /6/);
  idX.dispose(); testX.dispose(); model.dispose(); other.dispose();
  assert.equal(liveTensors(), start);
});

test('DoSE: the KDE stage equals scipy.stats.gaussian_kde (Scott) summed over statistics; the detector round-trips', { skip: skipNoTorch }, async () => {
  const rng = new Rng(5);
  const mk = (n: number) => Object.fromEntries(DOSE_STATS.map((k, j) => [k, Float64Array.from({ length: n }, () => (j + 1) * 10 + Math.exp(0.4 * rng.normal()) * (j + 1))]));
  const train = mk(200), probe = mk(10);
  probe.rate![0] = 500; // far out: finite, very low density
  const st = fitDose(train);
  const mine = scoreDose(st, probe).score;
  const ref = oracle(tmp(), { cmd: 'kde', train: rows(train, DOSE_STATS), test: rows(probe, DOSE_STATS) });
  assertClose(mine, ref.logdensity!.map((v) => -v), { rel: 1e-5, abs: 1e-4 }, '-log density');

  const start = liveTensors();
  const dir = tmp();
  const model = tinyModel({}, 6);
  const idX = blobs(40, 7), testX = blobs(6, 8);
  const det = createDetector('dose', model, { k: 4 });
  await det.fit!(source(idX, 'id'), { batchSize: 20 });
  const saved = det.saveState!();
  saveDetectorState(dir, det);
  const b = createDetector('dose', model, { k: 4 });
  assert.equal(loadDetectorState(dir, b), true);
  const b2 = createDetector('dose', model, { k: 4 });
  loadDetectorState(dir, b2);
  const r = b.evaluate(testX);
  assert.deepEqual([...b2.evaluate(testX).score], [...r.score], 'same state and noise, same scores');
  // The score is the KDE stage, with the saved points and bandwidths, applied to the detector's own statistics.
  const bw = saved.meta.bandwidth as Record<string, number>;
  const kde = Object.fromEntries(DOSE_STATS.map((k) => [k, { points: [...saved.arrays[k]!.data], bandwidth: bw[k]! }]));
  assertClose(r.score, scoreDose({ stats: [...DOSE_STATS], kde, n: 40 }, r.columns).score, { abs: 1e-5 }, 'score = KDE stage');
  assert.equal(saved.arrays.loglik!.data.length, 40, 'one fitted value per ID image');
  idX.dispose(); testX.dispose(); model.dispose();
  assert.equal(liveTensors(), start);
});

test('lpath: fitted on ID statistics, both second stages and the two-model variant round-trip through the run folder', async () => {
  const start = liveTensors();
  const small = tinyModel({ zDim: 2 }, 8), large = tinyModel({ zDim: 32 }, 9);
  const idX = blobs(50, 10), testX = blobs(6, 11);
  for (const secondStage of ['copod', 'mahalanobis']) {
    for (const models of [[small], [small, large]]) {
      const dir = tmp();
      const det = createDetector('lpath', models, { secondStage });
      await det.fit!(source(idX, 'id'), { batchSize: 25 });
      const s1 = det.score(testX);
      saveDetectorState(dir, det);
      const again = createDetector('lpath', models, { secondStage });
      loadDetectorState(dir, again);
      assert.deepEqual([...again.score(testX)], [...s1], `${secondStage}, ${models.length} model(s)`);
      const r = again.evaluate(testX);
      assert.deepEqual(Object.keys(r.columns).sort(), ['lpath', 's', 'u', 'v', 'w']);
    }
  }
  const dir = tmp();
  const det = createDetector('lpath', small, { secondStage: 'copod' });
  await det.fit!(source(idX, 'id'));
  saveDetectorState(dir, det);
  assert.throws(() => loadDetectorState(dir, createDetector('lpath', small, { secondStage: 'mahalanobis' })), /second stage copod/);
  idX.dispose(); testX.dispose(); small.dispose(); large.dispose();
  assert.equal(liveTensors(), start);
});

test('typicality: H is the mean ID NLL of the even half; the batch form scores disjoint batches; state round-trips', async () => {
  const start = liveTensors();
  const model = tinyModel({}, 12);
  const idX = blobs(40, 13), testX = blobs(12, 14);
  const det = createDetector('typicality', model, { k: 4, seed: 3 });
  await det.fit!(source(idX, 'id'), { batchSize: 40 });
  const ll = iwae(model, idX, 4, 3); // the same noise stream the detector used for its one fitting batch
  let h = 0;
  for (let i = 0; i < 40; i += 2) h -= ll[i]! / 20;
  const llTest = iwae(model, testX, 4, 3);
  const dir = tmp();
  saveDetectorState(dir, det);
  const fresh = createDetector('typicality', model, { k: 4, seed: 3 }); // fresh noise stream, as llTest
  loadDetectorState(dir, fresh);
  assertClose(fresh.score(testX), Array.from(llTest, (v) => Math.abs(-v - h)), { abs: 2e-3 }, '|NLL - H|');
  const batch = createDetector('typicality-batch', model, { k: 4, seed: 3 });
  batch.loadState!(det.saveState!()); // the same fitted log-likelihoods serve both forms
  const r = scoreDataset(batch, source(testX, 'test'), { batchSize: 5 });
  assert.equal(r.n, 2, 'two disjoint batches of 5 (2 images left over)');
  assert.ok(r.columns.epsilon![0]! > 0 && (r.columns.ood![0] === 0 || r.columns.ood![0] === 1));
  assert.throws(() => loadDetectorState(dir, createDetector('typicality', model, { k: 8 })), /K = 4/);
  idX.dispose(); testX.dispose(); model.dispose();
  assert.equal(liveTensors(), start);
});

test('waic and likelihood-ratio combine the members\' IWAE log-likelihoods as the papers write them', () => {
  const start = liveTensors();
  const a = tinyModel({}, 20), b = tinyModel({}, 21), c = tinyModel({}, 22);
  const x = blobs(5, 15);
  const la = iwae(a, x, 6, 1), lb = iwae(b, x, 6, 1), lc = iwae(c, x, 6, 1);
  const w = createDetector('waic', [a, b, c], { k: 6, seed: 1 }).evaluate(x);
  const expected = Array.from(la, (_, i) => {
    const v = [la[i]!, lb[i]!, lc[i]!], m = (v[0]! + v[1]! + v[2]!) / 3;
    return -(m - v.reduce((s, t) => s + (t - m) ** 2, 0) / 3);
  });
  assertClose(w.score, expected, { rel: 1e-5, abs: 1e-3 }, 'waic');
  const lr = createDetector('likelihood-ratio', [a, b], { k: 6, seed: 1 }).evaluate(x);
  assertClose(lr.score, Array.from(la, (v, i) => -(v - lb[i]!)), { abs: 1e-3 }, 'likelihood ratio');
  const cat = tinyModel({ decoder: 'categorical' }, 23);
  assert.throws(() => createDetector('likelihood-ratio', [a, cat]), /same images/);
  x.dispose(); a.dispose(); b.dispose(); c.dispose(); cat.dispose();
  assert.equal(liveTensors(), start);
});

test('input-complexity through the contract: bpd of the IWAE minus 8 x the PNG / WebP bytes per dimension', async () => {
  const start = liveTensors();
  const model = tinyModel({}, 30);
  const x = blobs(4, 16);
  const ll = iwae(model, x, 5, 2, true); // log P(x8): the discretized likelihood of the 8-bit image
  for (const compressor of ['png', 'webp'] as const) {
    const r = createDetector('input-complexity', model, { k: 5, seed: 2, compressor }).evaluate(x);
    const bits = await compressedBits(x.toFloat32Array(), [4, 1, 28, 28], compressor);
    assertClose(r.score, Array.from(ll, (v, i) => bitsPerDim(v, 784) - bits[i]! / 784), { abs: 1e-3 }, compressor);
  }
  x.dispose(); model.dispose();
  assert.equal(liveTensors(), start);
});

test('likelihood-regret through the driver: batched mode equals the loop, per sample', () => {
  const start = liveTensors();
  const model = tinyModel({}, 40);
  const x = blobs(6, 17);
  const src = source(x, 'test');
  const o = { steps: 5, k: 4, lr: 1e-3, seed: 9 };
  const loop = scoreDataset(createDetector('likelihood-regret', model, { ...o, regretMode: 'loop' }), src, { batchSize: 3 });
  const batched = scoreDataset(createDetector('likelihood-regret', model, { ...o, group: 2 }), src, { batchSize: 3 });
  assertClose(batched.score, loop.score, { abs: 2e-3 }, 'regret');
  assert.ok(loop.columns.nll_before!.every(Number.isFinite));
  x.dispose(); model.dispose();
  assert.equal(liveTensors(), start);
});
