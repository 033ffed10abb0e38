// Non-finite scores (issue 11 item 3): an error naming the data set and the image, or, with --allow-non-finite,
// recorded in the score file as "NaN" / "Infinity" strings that `oodgen metrics` reads back; never a silent null.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, liveTensors, type Tensor } from '../../src/engine/index.js';
import { createModel } from '../../src/models/factory.js';
import { saveStateDict } from '../../src/io/checkpoint.js';
import type { ModelConfig } from '../../src/models/types.js';
import { registerDetector, unregisterDetector, scoreDataset, scoreMixed, type DetectorSpec } from '../../src/scores/index.js';
import { runScore } from '../../src/cli/score.js';
import { loadScores, runMetrics } from '../../src/cli/metrics.js';
import { oodMetrics } from '../../src/eval/metrics.js';
import { OodgenError } from '../../src/errors.js';
import { loadDataset } from '../../src/data/registry.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('nonfinite');
after(() => rmSync(dir, { recursive: true, force: true }));

/** Score = mean pixel of the image, except that images whose mean pixel is a planted value get NaN or Infinity. */
let plants: { mean: number; value: number }[] = [];
let seen = 0;
const spec: DetectorSpec = {
  name: 'test-non-finite', title: 'mean pixel, with NaN and Infinity planted', reference: 'test', granularity: 'sample', needs: [],
  columns: { m: 'mean pixel' }, axis: 'm', units: 'pixel',
  create: () => ({
    name: 'test-non-finite', description: 'test',
    evaluate(x: Tensor) {
      const b = x.shape[0]!;
      const score = x.reshape([b, -1]).mean(1).toFloat32Array(); // (B,)
      for (let i = 0; i < b; i++) {
        const p = plants.find((q) => Math.abs(q.mean - score[i]!) < 1e-5);
        if (p) score[i] = p.value;
      }
      seen += b;
      return { score, columns: { m: score } };
    },
    score(x: Tensor) { return this.evaluate(x).score; },
    settings: () => ({}),
  }),
};

const CFG: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4, sigma2: 0.1 };
function makeRun(): string {
  const runDir = join(dir, 'run');
  mkdirSync(runDir, { recursive: true });
  const m = createModel(CFG, { generator: Generator.cpu(7) });
  saveStateDict(join(runDir, 'model.safetensors'), m);
  m.dispose();
  writeFileSync(join(runDir, 'config.json'), JSON.stringify({
    format: 'oodgen-run/1', model: CFG,
    data: { train: 'noise:64', valFraction: 0.1, valLimit: 100, imageSize: 28, channels: 1, dequantize: true, preprocessing: null, trainCount: 58, valCount: 6 },
    training: { batchSize: 8, lr: 1e-3, betas: [0.9, 0.999], epochs: 1, maxSteps: null, timeBudgetMin: null, checkpointEvery: 100, logEvery: 10, patience: null, sintro: null },
    seed: 0, device: 'cpu', engine: { torch: '1.13.0', oodgen: '0.1.0' }, createdAt: new Date().toISOString(),
  }));
  return runDir;
}

/** 10 constant images with values 0, 1/9, ..., 1 (image i has mean i/9). */
function constantSet(name: string) {
  const d = 28 * 28;
  const images = new Float32Array(10 * d);
  for (let i = 0; i < 10; i++) images.fill(i / 9, i * d, (i + 1) * d);
  return { images, shape: [10, 1, 28, 28] as [number, number, number, number], name };
}

test('scoreDataset and scoreMixed: a NaN score is an error naming the set and the first bad image', () => {
  plants = [{ mean: Math.fround(2 / 9), value: NaN }, { mean: Math.fround(4 / 9), value: Infinity }];
  const det = spec.create({ model: null as never, options: {} } as never);
  const set = constantSet('my-set:test');
  assert.throws(() => scoreDataset(det, set, { batchSize: 3 }),
    (e: Error) => e instanceof OodgenError && /my-set:test \(test-non-finite\): score of image 2 is NaN \(2 of 10 scores are NaN or infinite\)/.test(e.message));
  assert.throws(() => scoreMixed(det, [constantSet('other'), set], { batchSize: 4 }), /other \(test-non-finite\): score of image 2 is NaN/);
  // Asked for explicitly: kept as they are, every other score finite and in place.
  const r = scoreDataset(det, set, { batchSize: 3, nonFinite: 'keep' });
  assert.ok(Number.isNaN(r.score[2]!));
  assert.equal(r.score[4], Infinity);
  assert.ok(Math.abs(r.score[5]! - 5 / 9) < 1e-6);
});

test('oodgen score: non-finite scores fail naming the data set and image, or are recorded as strings that metrics reads', async () => {
  registerDetector(spec);
  try {
    const start = liveTensors();
    const run = makeRun();
    // Plant NaN on image 2 and Infinity on image 4 of constant:10 (random uniform colours), found by their mean pixel.
    const { set } = await loadDataset('constant:10', { imageSize: 28, channels: 1 });
    const scale = set.images instanceof Uint8Array ? 1 / 255 : 1;
    const mean = (i: number) => Math.fround((set.images.subarray(i * 784, (i + 1) * 784) as Float32Array).reduce((a, v) => a + v, 0) / 784 * scale);
    plants = [{ mean: mean(2), value: NaN }, { mean: mean(4), value: Infinity }];
    for (const i of [0, 1, 3, 5, 6, 7, 8, 9]) assert.ok(Math.abs(mean(i) - mean(2)) > 1e-4 && Math.abs(mean(i) - mean(4)) > 1e-4, 'distinct test images');
    const out = join(dir, 'bad.json');
    await assert.rejects(runScore({ checkpoint: run, data: 'constant:10', score: 'test-non-finite', batchSize: 4, out }),
      (e: Error) => e instanceof OodgenError && /constant:10 \(test-non-finite\): score of image 2 is NaN/.test(e.message) && /--allow-non-finite/.test(e.message));
    const j = await runScore({ checkpoint: run, data: 'constant:10', score: 'test-non-finite', batchSize: 4, out, allowNonFinite: true });
    const file = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(file.scores[2], 'NaN');
    assert.equal(file.scores[4], 'Infinity');
    assert.equal(file.columns.m[2], 'NaN');
    assert.deepEqual(file.nonFinite.indices, [2, 4]);
    assert.equal(file.nonFinite.count, 2);
    assert.ok(!JSON.stringify(j.scores).includes('null'));
    // metrics: a NaN has no rank, so it is an error naming the file and the image...
    await assert.rejects(loadScores(out), (e: Error) => e instanceof OodgenError && e.message.includes(out) && /image 2 is NaN/.test(e.message));
    // ...while infinite scores are read back as numbers and ranked.
    const fixed = { ...file, scores: file.scores.map((s: number | string) => (s === 'NaN' ? 0.5 : s)) };
    const idFile = join(dir, 'id.json');
    writeFileSync(idFile, JSON.stringify({ scores: [0.1, 0.2, '-Infinity', 0.3] }));
    writeFileSync(join(dir, 'ood.json'), JSON.stringify(fixed));
    const ood = await loadScores(join(dir, 'ood.json'));
    assert.equal(ood[4], Infinity);
    assert.deepEqual(await loadScores(idFile), [0.1, 0.2, -Infinity, 0.3]);
    const m = await runMetrics({ id: idFile, ood: join(dir, 'ood.json') });
    assert.equal(m.AUROC, oodMetrics([0.1, 0.2, -Infinity, 0.3], ood).AUROC);
    assert.ok(m.AUROC > 0.5 && m.AUROC <= 1);
    assert.equal(liveTensors(), start);
  } finally {
    unregisterDetector(spec.name);
  }
  assert.ok(seen > 0);
});
