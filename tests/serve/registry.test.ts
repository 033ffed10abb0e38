// The gate over the detector registry: a detector registered from outside src/ that fits on ID data is fitted on
// half of the calibration data (its state saved in the run folder), calibrated on the other half, and served with
// the closed-form score; a detector whose score moves with its batch-mates, and a batch detector, are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Tensor, liveTensors, mean, sub, abs, div } from '../../src/engine/index.js';
import { registerDetector, unregisterDetector, detectorStatePaths, type Detector, type DetectorSpec, type DetectorState, type ImageSource } from '../../src/scores/index.js';
import { openGate } from '../../src/serve/index.js';
import { blobs, noise, tinyRun, SIZE, type TinyRun } from './helpers.js';

const PER = SIZE * SIZE;
const imageMean = (a: ArrayLike<number>, i: number) => {
  let s = 0;
  for (let j = 0; j < PER; j++) s += a[i * PER + j]!;
  return s / PER;
};

/** |mean intensity - mu| / sd, with mu and sd of the mean intensity fitted on ID images. */
class Brightness implements Detector {
  readonly name = 'test-brightness';
  readonly description = 'brightness z-score';
  mu = NaN;
  sd = NaN;
  constructor(readonly model: Detector['model']) {}
  get fitted() { return Number.isFinite(this.mu); }
  fit(id: ImageSource) {
    const n = id.shape[0];
    const m = Array.from({ length: n }, (_, i) => imageMean(id.images, i));
    this.mu = m.reduce((a, b) => a + b, 0) / n;
    this.sd = Math.sqrt(m.reduce((a, b) => a + (b - this.mu) ** 2, 0) / (n - 1));
  }
  saveState(): DetectorState { return { meta: { mu: this.mu, sd: this.sd }, arrays: {} }; }
  loadState(s: DetectorState) { this.mu = s.meta.mu as number; this.sd = s.meta.sd as number; }
  evaluate(x: Tensor) {
    const score = div(abs(sub(mean(x, [1, 2, 3]), this.mu)), this.sd).toFloat32Array();
    return { score, columns: { z: score } };
  }
  score(x: Tensor) { return this.evaluate(x).score; }
  settings() { return {}; }
}

const brightnessSpec: DetectorSpec = {
  name: 'test-brightness', title: 'brightness z-score', reference: 'test', granularity: 'sample', needs: [], fits: true,
  columns: { z: 'z-score' }, axis: 'z', units: 'sd', create: ({ model }) => new Brightness(model),
};

/** Declares itself per-sample but centres each image on its batch's mean: the gate must catch it. */
const leakySpec: DetectorSpec = {
  ...brightnessSpec, name: 'test-leaky', fits: false,
  create: ({ model }) => ({
    name: 'test-leaky', description: 'image mean minus batch mean', model,
    score: (x: Tensor) => sub(mean(x, [1, 2, 3]), mean(x)).toFloat32Array(),
    evaluate(x: Tensor) { const s = this.score(x); return { score: s, columns: { z: s } }; },
    settings: () => ({}),
  }),
};

const batchSpec: DetectorSpec = { ...leakySpec, name: 'test-batch-test', granularity: 'batch' };

let run: TinyRun;
before(async () => {
  run = await tinyRun();
  for (const s of [brightnessSpec, leakySpec, batchSpec]) registerDetector(s);
});
after(() => {
  for (const s of [brightnessSpec, leakySpec, batchSpec]) unregisterDetector(s.name);
  run.cleanup();
});

test('a registered detector that fits is fitted on half the calibration data, saved, reloaded and served', async () => {
  const base = liveTensors();
  await assert.rejects(openGate({ checkpoint: run.dir, detector: 'test-brightness' }), /must be fitted on in-distribution data.*--calibrate DATA/);
  const cal = blobs(40, 31);
  const g = await openGate({ checkpoint: run.dir, detector: 'test-brightness', calibrate: cal });
  // Fitted on images 0..19 (closed form here), calibrated on 20..39.
  const m = Array.from({ length: 20 }, (_, i) => imageMean(cal.images, i));
  const mu = m.reduce((a, b) => a + b, 0) / 20;
  const sd = Math.sqrt(m.reduce((a, b) => a + (b - mu) ** 2, 0) / 19);
  const expectCal = Array.from({ length: 20 }, (_, i) => Math.abs(imageMean(cal.images, 20 + i) - mu) / sd).sort((a, b) => a - b);
  assert.equal(g.calibration.scores.length, 20);
  g.calibration.scores.forEach((s, i) => assert.ok(Math.abs(s - expectCal[i]!) < 1e-4, `calibration score ${i}: ${s} vs ${expectCal[i]}`));
  const ood = noise(1, 5);
  const served = g.scoreBatch([Float32Array.from(ood.images)]).scores[0]!;
  assert.ok(Math.abs(served - Math.abs(imageMean(ood.images, 0) - mu) / sd) < 1e-4);
  assert.equal(g.decide(served).ood, true);
  g.dispose();
  // Reopened: state and calibration come from the run folder.
  const g2 = await openGate({ checkpoint: run.dir, detector: 'test-brightness' });
  assert.equal(g2.threshold, g.threshold);
  assert.ok(Math.abs(g2.scoreBatch([Float32Array.from(ood.images)]).scores[0]! - served) < 1e-6);
  g2.dispose();
  // A refitted state makes the old calibration stale.
  const p = detectorStatePaths(run.dir, 'test-brightness').json;
  const doc = JSON.parse(readFileSync(p, 'utf8'));
  doc.meta.mu += 0.01;
  writeFileSync(p, JSON.stringify(doc));
  await assert.rejects(openGate({ checkpoint: run.dir, detector: 'test-brightness' }), /recalibrate/);
  assert.equal(liveTensors(), base);
});

test('a detector whose score moves with its batch-mates, and a batch detector, are refused for serving', async () => {
  const base = liveTensors();
  await assert.rejects(openGate({ checkpoint: run.dir, detector: 'test-leaky', calibrate: blobs(8, 3) }), /'test-leaky' cannot be served: the score of calibration image 0 is .* alone and .* in a batch/);
  await assert.rejects(openGate({ checkpoint: run.dir, detector: 'test-batch-test', calibrate: blobs(8, 3) }), /scores whole batches \(granularity 'batch'\).*only per-sample detectors/);
  assert.equal(liveTensors(), base);
});
