// The detector registry and contract (src/scores/registry.ts, types.ts, state.ts): built-ins, capability checks,
// registration from outside src/, fitted state saved to and loaded from a run folder, batch detectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, liveTensors, rand, tidy, type Tensor } from '../../src/engine/index.js';
import { createModel } from '../../src/models/factory.js';
import type { ModelConfig } from '../../src/models/types.js';
import { tempDir } from '../helpers/tmp.js';
import {
  createDetector, detectorNames, detectorSpec, detectorsFor, listDetectors, loadDetectorState, registerDetector, reportRows,
  saveDetectorState, scoreDataset, unregisterDetector, type Detector, type DetectorSpec, type DetectorState, type ImageSource,
} from '../../src/scores/index.js';

const CFG: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4, sigma2: 0.1 };

function images(n: number, seed: number, scale = 1): ImageSource {
  return { images: tidy(() => rand([n, 1, 28, 28], { generator: Generator.cpu(seed) }).toFloat32Array().map((v) => v * scale)), shape: [n, 1, 28, 28] };
}

/** A fitted detector: squared distance of an image to the mean in-distribution image. */
class MeanDistance implements Detector {
  readonly name = 'test-mean-distance';
  readonly description = 'squared distance to the mean ID image';
  mean: Float32Array | null = null;
  get fitted() { return this.mean !== null; }
  constructor(readonly model: Detector['model']) {}
  fit(id: ImageSource) {
    const [n, c, h, w] = id.shape;
    const d = c * h * w;
    const m = new Float32Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m[j]! += id.images[i * d + j]! / n;
    this.mean = m;
  }
  saveState(): DetectorState {
    return { meta: { dims: this.mean!.length }, arrays: { mean: { data: this.mean!, shape: [this.mean!.length] } } };
  }
  loadState(s: DetectorState) {
    if (s.meta.dims !== 784) throw new Error(`state has ${s.meta.dims} dims, expected 784`);
    this.mean = s.arrays.mean!.data as Float32Array;
  }
  evaluate(x: Tensor) {
    if (!this.mean) throw new Error('not fitted');
    const v = x.toFloat32Array();
    const b = x.shape[0]!, d = v.length / b;
    const score = new Float32Array(b);
    for (let i = 0; i < b; i++) for (let j = 0; j < d; j++) score[i]! += (v[i * d + j]! - this.mean[j]!) ** 2;
    return { score, columns: { distance: score } };
  }
  score(x: Tensor) { return this.evaluate(x).score; }
  settings() { return {}; }
}

const meanDistanceSpec: DetectorSpec = {
  name: 'test-mean-distance', title: 'squared distance to the mean ID image', reference: 'a test', granularity: 'sample',
  needs: [], fits: true, columns: { distance: 'sum of squares' }, axis: 'distance', units: 'sum of squares',
  create: ({ model }) => new MeanDistance(model),
};

test('built-in detectors are registered with references, columns and rows; an AE supports only rec', () => {
  assert.deepEqual(detectorNames().slice(0, 5), ['elbo', 'iwae', 'bpd', 'components', 'rec']);
  for (const s of listDetectors()) {
    assert.ok(s.reference.length > 5 && s.title.length > 5 && s.axis.length > 0, s.name);
    for (const r of reportRows(s)) assert.ok(r.meanOf in s.columns, `${s.name}: ${r.row}`);
  }
  assert.deepEqual(reportRows(detectorSpec('components')).map((r) => r.row), ['-reconstruction', '-prior', '-entropy', 'kl']);
  const ae = createModel({ ...CFG, kind: 'ae' }, { generator: Generator.cpu(1) });
  const vae = createModel(CFG, { generator: Generator.cpu(1) });
  assert.deepEqual(detectorsFor(ae), ['rec']);
  assert.deepEqual(detectorsFor(vae).slice(0, 5), ['elbo', 'iwae', 'bpd', 'components', 'rec']);
  assert.throws(() => createDetector('iwae', ae), /score 'iwae' needs posterior.*reconstruction error/);
  assert.throws(() => createDetector('nll', vae), /unknown score 'nll' \(expected one of elbo, iwae/);
  assert.throws(() => createDetector('iwae', [vae, vae]), /takes 1 model, got 2/);
  ae.dispose();
  vae.dispose();
});

test('registerDetector validates specs and refuses duplicates', () => {
  assert.throws(() => registerDetector({ ...meanDistanceSpec, name: 'Bad Name' }), /lower case/);
  assert.throws(() => registerDetector({ ...meanDistanceSpec, name: 'x-rows', rows: [{ row: 'r', meanOf: 'nope' }] }), /'nope', which is not one of its columns/);
  assert.throws(() => registerDetector({ ...meanDistanceSpec, name: 'iwae' }), /already registered/);
  assert.throws(() => registerDetector({ ...meanDistanceSpec, name: 'x-models', models: { min: 0 } }), /models.min/);
});

test('a detector registered from outside src/ fits on ID data, saves and loads its state in the run folder', async () => {
  registerDetector(meanDistanceSpec);
  const dir = tempDir('detstate');
  const m = createModel(CFG, { generator: Generator.cpu(2) });
  const start = liveTensors();
  try {
    const id = images(20, 1, 0.5), ood = images(6, 2);
    const det = createDetector('test-mean-distance', m);
    assert.equal(det.fitted, false);
    await det.fit!(id);
    const files = saveDetectorState(dir, det);
    assert.deepEqual(files.map((f) => f.slice(dir.length + 1)).sort(), ['detectors/test-mean-distance.json', 'detectors/test-mean-distance.safetensors']);
    const again = createDetector('test-mean-distance', m);
    assert.equal(loadDetectorState(dir, again), true);
    assert.equal(again.fitted, true);
    const r = scoreDataset(again, ood, { batchSize: 4 });
    // Oracle: the distance computed here from the raw arrays.
    const mean = new Float64Array(784);
    for (let i = 0; i < 20; i++) for (let j = 0; j < 784; j++) mean[j]! += id.images[i * 784 + j]! / 20;
    for (let i = 0; i < 6; i++) {
      let s = 0;
      for (let j = 0; j < 784; j++) s += (ood.images[i * 784 + j]! - mean[j]!) ** 2;
      assert.ok(Math.abs(r.score[i]! - s) < 1e-3 * s, `image ${i}: ${r.score[i]} vs ${s}`);
    }
    assert.deepEqual([...r.columns.distance!], [...r.score]);
    // No state yet in another folder; a state of the wrong size is refused with the file named.
    const other = tempDir('detstate');
    assert.equal(loadDetectorState(other, createDetector('test-mean-distance', m)), false);
    rmSync(other, { recursive: true });
    const bad = new MeanDistance(m);
    bad.mean = new Float32Array(3);
    saveDetectorState(dir, bad);
    assert.throws(() => loadDetectorState(dir, createDetector('test-mean-distance', m)), /test-mean-distance\.json: state has 3 dims/);
    assert.equal(liveTensors(), start);
  } finally {
    unregisterDetector('test-mean-distance');
    m.dispose();
    rmSync(dir, { recursive: true });
  }
  assert.equal(existsSync(dir), false);
});

test('a batch detector gets disjoint batches and returns one score per batch', () => {
  registerDetector({
    name: 'test-batch-mean', title: 'mean pixel of a batch', reference: 'a test', granularity: 'batch', needs: [],
    columns: { mean: 'pixel value' }, axis: 'mean', units: 'pixel value',
    create: () => ({
      name: 'test-batch-mean', description: 'mean pixel of a batch',
      evaluate(x: Tensor) { const v = x.toFloat32Array(); const s = new Float32Array([v.reduce((a, b) => a + b, 0) / v.length]); return { score: s, columns: { mean: s } }; },
      score(x: Tensor) { return this.evaluate(x).score; },
      settings: () => ({}),
    }),
  });
  try {
    const m = createModel(CFG, { generator: Generator.cpu(2) });
    const data = images(11, 3);
    const r = scoreDataset(createDetector('test-batch-mean', m), data, { batchSize: 4 });
    assert.equal(r.n, 2);
    for (let g = 0; g < 2; g++) {
      let s = 0;
      for (let j = g * 4 * 784; j < (g + 1) * 4 * 784; j++) s += data.images[j]!;
      assert.ok(Math.abs(r.score[g]! - s / (4 * 784)) < 1e-5);
    }
    assert.match(r.batchingNote, /last 3 images were not scored/);
    assert.throws(() => scoreDataset(createDetector('test-batch-mean', m), images(3, 1), { batchSize: 4 }), /at least one batch of 4/);
    m.dispose();
  } finally {
    unregisterDetector('test-batch-mean');
  }
});
