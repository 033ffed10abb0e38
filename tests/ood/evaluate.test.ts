// src/ood/evaluate.ts beyond the CLI's use: fitted detectors (fit on ID data, state saved in the run folder and
// loaded by the next evaluation, a clear error when neither exists), ensembles of models, bad input.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import {
  Generator, createModel, evaluate, liveTensors, registerDetector, unregisterDetector,
  type Detector, type DetectorState, type ImageSource, type ModelConfig, type Tensor,
} from '../../src/index.js';

const dir = tempDir('evaluate');
after(() => rmSync(dir, { recursive: true, force: true }));
const CFG: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 2, width: 4, sigma2: 0.1 };

function set(name: string, n: number, value: (i: number, j: number) => number) {
  const images = new Float32Array(n * 784);
  for (let i = 0; i < n; i++) for (let j = 0; j < 784; j++) images[i * 784 + j] = value(i, j);
  return { images, shape: [n, 1, 28, 28] as [number, number, number, number], name };
}

let fits = 0;
/** Score = |mean pixel - mean pixel of the ID fitting data|. */
class CentreDistance implements Detector {
  readonly name = 'test-centre';
  readonly description = '|mean pixel - ID mean pixel|';
  centre: number | null = null;
  get fitted() { return this.centre !== null; }
  fit(id: ImageSource) { fits++; let s = 0; for (const v of id.images) s += v; this.centre = s / id.images.length; }
  saveState(): DetectorState { return { meta: { centre: this.centre }, arrays: {} }; }
  loadState(s: DetectorState) { this.centre = s.meta.centre as number; }
  evaluate(x: Tensor) {
    const b = x.shape[0]!;
    const m = x.reshape([b, -1]).mean(1).toFloat32Array(); // (B,)
    const score = m.map((v) => Math.abs(v - this.centre!));
    return { score, columns: { mean: m } };
  }
  score(x: Tensor) { return this.evaluate(x).score; }
  settings() { return {}; }
}

test('a fitted detector: fitted on ID data and saved, loaded next time, refused when neither is possible', async () => {
  registerDetector({
    name: 'test-centre', title: 'distance to the ID mean pixel', reference: 'a test', granularity: 'sample', needs: [], fits: true,
    columns: { mean: 'mean pixel' }, axis: 'distance', units: 'pixel value', create: () => new CentreDistance(),
  });
  const m = createModel(CFG, { generator: Generator.cpu(1) });
  const start = liveTensors();
  try {
    const fitData = set('train', 10, () => 0.5);
    const id = set('id', 8, (i) => 0.5 + (i % 2 ? 0.01 : -0.01)), ood = set('ood', 6, (i) => 0.9 - i * 0.01);
    const run = join(dir, 'run');
    await assert.rejects(evaluate({ model: m, detectors: ['test-centre'], id, ood: [ood], bootstrap: 0 }), /must be fitted on in-distribution data first/);
    const a = await evaluate({ model: m, detectors: ['test-centre'], id, ood: [ood], bootstrap: 0, batchSize: 4, fit: { data: fitData, runDir: run } });
    assert.equal(fits, 1);
    assert.match(a.fitted['test-centre']!, /fitted on train \(10 images\), saved in/);
    assert.ok(existsSync(join(run, 'detectors', 'test-centre.json')));
    assert.equal(a.rows[0]!.AUROC, 1); // every OoD mean is >= 0.85, every ID mean within 0.01 of 0.5
    const b = await evaluate({ model: m, detectors: ['test-centre'], id, ood: [ood], bootstrap: 0, batchSize: 4, fit: { runDir: run } });
    assert.equal(fits, 1, 'the saved state is loaded, not refitted');
    assert.match(b.fitted['test-centre']!, /loaded from/);
    assert.deepEqual([...b.raw['test-centre']!.eval![1]!.score], [...a.raw['test-centre']!.eval![1]!.score]);
    assert.equal(liveTensors(), start);
  } finally {
    unregisterDetector('test-centre');
    m.dispose();
  }
});

test('an ensemble detector gets every model; bad sets and duplicate detectors are refused before any work', async () => {
  let seen = 0;
  registerDetector({
    name: 'test-ensemble', title: 'number of models', reference: 'a test', granularity: 'sample', needs: ['decode'], models: { min: 2 },
    columns: { k: 'models' }, axis: 'models', units: 'count',
    create: ({ models }) => {
      seen = models.length;
      return {
        name: 'test-ensemble', description: 'models', model: models[0],
        evaluate: (x: Tensor) => { const s = new Float32Array(x.shape[0]!).fill(models.length); return { score: s, columns: { k: s } }; },
        score(x: Tensor) { return this.evaluate(x).score; }, settings: () => ({ models: models.length }),
      };
    },
  });
  const ms = [1, 2, 3].map((s) => createModel(CFG, { generator: Generator.cpu(s) }));
  try {
    const id = set('id', 4, () => 0.2), ood = set('ood', 4, () => 0.7);
    const r = await evaluate({ model: ms, detectors: ['test-ensemble', 'rec'], id, ood: [ood], bootstrap: 0 });
    assert.equal(seen, 3);
    assert.deepEqual(r.settings['test-ensemble'], { models: 3 });
    await assert.rejects(evaluate({ model: ms[0]!, detectors: ['test-ensemble'], id, ood: [ood] }), /takes at least 2 models, got 1/);
    await assert.rejects(evaluate({ model: ms, detectors: ['rec', 'rec'], id, ood: [ood] }), /listed twice/);
    await assert.rejects(evaluate({ model: ms, detectors: ['rec'], id, ood: [{ ...set('x', 2, () => 0), shape: [2, 1, 32, 32], images: new Float32Array(2 * 1024) }] }), /x: images are 1x32x32 but the model takes 1x28x28/);
    await assert.rejects(evaluate({ model: ms, detectors: ['rec'], id, ood: [] }), /at least one OoD dataset/);
  } finally {
    unregisterDetector('test-ensemble');
    for (const m of ms) m.dispose();
  }
});

test('evaluate({ signal }): an abort during a fit (between its batches) rejects before the fit ends; nothing is saved', async () => {
  const base = liveTensors();
  const model = createModel(CFG, { generator: Generator.cpu(5) });
  const withModel = liveTensors();
  const id = set('id', 24, (i, j) => ((i * 17 + j) % 89) / 89), ood = set('ood', 8, (i, j) => ((i + j) % 3) / 3);
  const fitData = set('fit', 64, (i, j) => ((i * 13 + j) % 83) / 83);
  const runDir = join(dir, 'abort-fit');
  const o = { model, detectors: ['mahalanobis-latent', 'dose'], id, ood: [ood], batchSize: 8, bootstrap: 5, progressBars: false, fit: { data: fitData, runDir } };
  const ac = new AbortController();
  const reason = new Error('stop the fit');
  const logs: string[] = [];
  // The first pause is before the fit's first batch; aborting at the third leaves 6 of its 8 batches undone.
  setImmediate(() => setImmediate(() => setImmediate(() => ac.abort(reason))));
  await assert.rejects(evaluate({ ...o, signal: ac.signal, log: (l) => logs.push(l) }), (e) => e === reason);
  assert.equal(logs.length, 0, `no detector reported as fitted: ${logs.join('; ')}`);
  assert.equal(existsSync(join(runDir, 'detectors')), false, 'no fitted state written');
  assert.equal(liveTensors(), withModel, 'the aborted batch and the partial statistics are freed');
  // Without an abort the same call fits both and saves their state.
  const r = await evaluate({ ...o, signal: new AbortController().signal, log: (l) => logs.push(l) });
  assert.equal(logs.filter((l) => /fitted on fit \(64 images\)/.test(l)).length, 2, logs.join('\n'));
  assert.equal(r.rows.length, 2);
  model.dispose();
  assert.equal(liveTensors(), base);
});

test('evaluate({ signal }): the same rows as without; an abort between batches rejects and frees the partial work', async () => {
  const base = liveTensors();
  const model = createModel(CFG, { generator: Generator.cpu(4) });
  const id = set('id', 24, (i, j) => ((i * 31 + j) % 97) / 97), ood = set('ood', 24, (i, j) => ((i + j) % 5) / 5);
  const o = { model, detectors: ['elbo', 'rec'], id, ood: [ood], bn: ['eval', 'enc'], batchSize: 8, bootstrap: 5, progressBars: false };
  const plain = await evaluate(o);
  const withSignal = await evaluate({ ...o, signal: new AbortController().signal });
  assert.deepEqual(withSignal.rows, plain.rows);
  assert.deepEqual(withSignal.raw, plain.raw);
  // Aborted at the first pause (after the first batch of the first set): rejects with the signal's reason, before
  // any detector / mode has finished.
  const ac = new AbortController();
  const reason = new Error('stop now');
  const logs: string[] = [];
  setImmediate(() => ac.abort(reason));
  await assert.rejects(evaluate({ ...o, signal: ac.signal, log: (l) => logs.push(l) }), (e) => e === reason);
  assert.deepEqual(logs, []);
  model.dispose();
  assert.equal(liveTensors(), base);
});
