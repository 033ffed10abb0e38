// The gate below HTTP: calibration arithmetic, per-sample scoring (the answer never depends on batch-mates),
// agreement with the library's scores, refusal of batch-statistics scoring, and the calibration file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveTensors, fromTypedArray, tidy, noGrad } from '../../src/engine/index.js';
import { loadRun } from '../../src/train/run.js';
import { ReconstructionDetector, scoreDataset, withBnMode } from '../../src/scores/index.js';
import { elbo } from '../../src/scores/elbo.js';
import { iwaeLogLikelihood } from '../../src/scores/iwae.js';
import { Noise } from '../../src/scores/latent.js';
import { openGate, PerSampleScorer, thresholdAt, pValue, calibrationFile, MicroBatcher } from '../../src/serve/index.js';
import { OodgenError } from '../../src/errors.js';
import { blobs, noise, tinyRun, SIZE, type TinyRun } from './helpers.js';

let run: TinyRun;
before(async () => {
  run = await tinyRun();
});
after(() => run.cleanup());

const PER = SIZE * SIZE;
const imagesOf = (set: { images: Float32Array | Uint8Array }, n: number): Float32Array[] =>
  Array.from({ length: n }, (_, i) => Float32Array.from(set.images.subarray(i * PER, (i + 1) * PER)));
const relClose = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test('threshold and conformal p-value agree with a brute-force count', () => {
  const xs = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4];
  const sorted = [...xs].sort((a, b) => a - b);
  for (const tpr of [0.05, 0.5, 0.8, 0.95, 1]) {
    const t = thresholdAt(sorted, tpr);
    // The smallest observed score with at least a fraction tpr of scores <= it.
    const brute = sorted.find((v) => xs.filter((x) => x <= v).length >= tpr * xs.length)!;
    assert.equal(t, brute, `tpr ${tpr}`);
  }
  for (const s of [-1, 1, 2.5, 3, 5, 9, 10]) {
    assert.equal(pValue(sorted, s), (1 + xs.filter((x) => x >= s).length) / (xs.length + 1), `score ${s}`);
  }
  assert.throws(() => thresholdAt(sorted, 0), /--tpr/);
});

test('micro-batcher: fills batches up to maxBatch, waits at most maxWait, skips cancelled items', async () => {
  const sizes: number[] = [];
  const b = new MicroBatcher<number, number>({ maxBatch: 4, maxWaitMs: 20, run: (xs) => xs.map((x) => x * 10), onBatch: (n) => sizes.push(n) });
  const out = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => b.submit(x)));
  assert.deepEqual(out, [10, 20, 30, 40, 50, 60]);
  assert.deepEqual(sizes, [4, 2]);
  const t0 = Date.now();
  assert.equal(await b.submit(7), 70);
  assert.ok(Date.now() - t0 < 1000);
  await assert.rejects(b.submit(8, () => true), /cancelled/);
  assert.deepEqual(sizes, [4, 2, 1]);
});

test('micro-batcher with a worker: one batch out at a time, the next one fills meanwhile, a failed batch rejects only its own items', async () => {
  const sizes: number[] = [];
  let out = 0, most = 0;
  const release: (() => void)[] = [];
  const b = new MicroBatcher<number, number>({
    maxBatch: 4, maxWaitMs: 1, concurrency: 1,
    run: async (xs) => {
      most = Math.max(most, ++out);
      await new Promise<void>((r) => release.push(r));
      out--;
      if (xs.includes(-1)) throw new Error('worker died');
      return xs.map((x) => x * 10);
    },
    onBatch: (n) => sizes.push(n),
  });
  const first = b.submit(1);
  await new Promise((r) => setTimeout(r, 20)); // batch [1] is out
  assert.equal(b.inFlight, 1);
  const rest = [2, 3, 4, 5, 6, 7].map((x) => b.submit(x));
  await new Promise((r) => setTimeout(r, 20)); // waited past maxWait, but the one worker is busy: they queue
  assert.equal(b.pending, 6);
  assert.equal(release.length, 1);
  release.shift()!();
  assert.equal(await first, 10);
  while (release.length < 1) await new Promise((r) => setTimeout(r, 1));
  release.shift()!();
  while (release.length < 1) await new Promise((r) => setTimeout(r, 1));
  release.shift()!();
  assert.deepEqual(await Promise.all(rest), [20, 30, 40, 50, 60, 70]);
  assert.deepEqual(sizes, [1, 4, 2]);
  assert.equal(most, 1);
  const bad = b.submit(-1);
  const good = (async () => {
    await new Promise((r) => setTimeout(r, 20));
    return b.submit(8);
  })();
  while (release.length < 1) await new Promise((r) => setTimeout(r, 1));
  release.shift()!();
  await assert.rejects(bad, /worker died/);
  while (release.length < 1) await new Promise((r) => setTimeout(r, 1));
  release.shift()!();
  assert.equal(await good, 80);
  assert.throws(() => new MicroBatcher({ maxBatch: 1, maxWaitMs: 1, concurrency: 0, run: (x) => x }), /concurrency must be a positive integer, got 0/);
});

test('served scores do not depend on batch-mates and match the library per image (rec, elbo, iwae)', async () => {
  const base = liveTensors();
  const id = imagesOf(blobs(8, 11), 8);
  const ood = imagesOf(noise(8, 12), 8);
  const { model } = loadRun(run.dir);
  try {
    for (const det of ['rec', 'elbo', 'iwae'] as const) {
      const scorer = new PerSampleScorer(model, det, { k: 6, samples: 2, seed: 5 });
      try {
        const gateLike = (xs: Float32Array[]) => tidy(() => {
          const buf = new Float32Array(xs.length * PER);
          xs.forEach((x, i) => buf.set(x, i * PER));
          return scorer.score(fromTypedArray(buf, [xs.length, 1, SIZE, SIZE]));
        });
        const alone = gateLike([id[0]!])[0]!;
        const withId = gateLike(id)[0]!;
        const withOod = gateLike([id[0]!, ...ood.slice(0, 7)])[0]!;
        const last = gateLike([...ood.slice(0, 5), id[0]!])[5]!;
        for (const v of [withId, withOod, last]) assert.ok(relClose(v, alone, 1e-5), `${det}: ${v} vs alone ${alone}`);
        // The library's own estimator for this one image, with the same noise (eps drawn like the bank).
        const oracle = tidy(() => noGrad(() => withBnMode(model, 'eval', () => {
          const x = fromTypedArray(id[0]!, [1, 1, SIZE, SIZE]);
          if (det === 'rec') return scoreDataset(new ReconstructionDetector(model), { images: id[0]!, shape: [1, 1, SIZE, SIZE] }).score[0]!;
          if (det === 'elbo') return -elbo(model, x, { samples: 2, eps: new Noise(5).randn([2, 1, 4], 'cpu') }).elbo.toFloat32Array()[0]!;
          return -iwaeLogLikelihood(model, x, { k: 6, eps: new Noise(5).randn([6, 1, 4], 'cpu') }).logLikelihood.toFloat32Array()[0]!;
        })));
        assert.ok(relClose(alone, oracle, 1e-5), `${det}: served ${alone} vs library ${oracle}`);
        // And the same ID image scores lower than noise (the detector is doing its job on this model).
        assert.ok(alone < gateLike([ood[0]!])[0]!, det);
      } finally {
        scorer.dispose();
      }
    }
  } finally {
    model.dispose();
  }
  assert.equal(liveTensors(), base);
});

test('scoring with batch statistics, unknown detectors and likelihood scores of an AE are refused', async () => {
  const { model } = loadRun(run.dir);
  try {
    for (const bn of ['enc', 'dec', 'both']) {
      assert.throws(() => new PerSampleScorer(model, 'elbo', { bn }), (e: Error) => e instanceof OodgenError && /batch statistics/.test(e.message) && e.message.includes(bn));
    }
    assert.throws(() => new PerSampleScorer(model, 'nope'), /unknown score 'nope' \(expected one of .*rec/);
    assert.throws(() => new PerSampleScorer(model, 'iwae', { k: 0 }), /k must be a positive integer/);
  } finally {
    model.dispose();
  }
  const ae = await tinyRun('ae');
  try {
    await assert.rejects(openGate({ checkpoint: ae.dir, detector: 'elbo', calibrate: blobs(8) }), /score 'elbo' needs posterior.*autoencoder.*\(score rec\)/);
  } finally {
    ae.cleanup();
  }
});

test('a model that early stopping did not end: the gate serves, says so at start-up (a note for a capped run, a warning for one still training) and in /v1/info', async () => {
  // The tiny run was ended by its step cap (maxSteps 40), not by early stopping.
  const logs: string[] = [];
  const g = await openGate({ checkpoint: run.dir, detector: 'rec', calibrate: blobs(16, 31), log: (l) => logs.push(l) });
  try {
    const state = JSON.parse(readFileSync(join(run.dir, 'state.json'), 'utf8')) as { epoch: number };
    const text = `ended by max-steps at epoch ${state.epoch}, not by early stopping (step 40)`;
    assert.deepEqual(g.training, { done: true, converged: false, text });
    assert.equal(logs[0], `note: ${run.dir}: ${text}`);
    assert.deepEqual(g.info().training, g.training);
  } finally {
    g.dispose();
  }
  // The same run as if still training: a warning.
  const stateFile = join(run.dir, 'state.json');
  const saved = readFileSync(stateFile, 'utf8');
  writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(saved), done: false, stopReason: null }));
  logs.length = 0;
  try {
    const g2 = await openGate({ checkpoint: run.dir, detector: 'rec', log: (l) => logs.push(l) });
    g2.dispose();
    assert.match(logs[0] ?? '', new RegExp(`^warning: ${run.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: NOT CONVERGED: training not finished \\(state\\.json: done is false at step 40, epoch [0-9]+\\)$`));
  } finally {
    writeFileSync(stateFile, saved);
  }
});

test('calibration is saved in the run folder, reloaded, and refused for other weights or settings', async () => {
  const base = liveTensors();
  await assert.rejects(openGate({ checkpoint: run.dir, detector: 'bpd', k: 4 }), /no calibration.*--calibrate/);
  const g1 = await openGate({ checkpoint: run.dir, detector: 'elbo', calibrate: blobs(50, 21), tpr: 0.9 });
  const t1 = g1.threshold;
  const id = g1.scoreBatch(imagesOf(blobs(30, 22), 30)).scores;
  const od = g1.scoreBatch(imagesOf(noise(30, 23), 30)).scores;
  g1.dispose();
  const acceptedId = Array.from(id).filter((s) => !g1.decide(s).ood).length;
  const flaggedOod = Array.from(od).filter((s) => g1.decide(s).ood).length;
  assert.ok(acceptedId >= 22, `ID accepted ${acceptedId}/30 at TPR 0.9`);
  assert.equal(flaggedOod, 30);
  const file = calibrationFile(run.dir, 'elbo');
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(saved.scores.length, 50);
  assert.equal(saved.threshold, t1);
  const g2 = await openGate({ checkpoint: run.dir, detector: 'elbo' });
  assert.equal(g2.threshold, t1);
  // Same image, same score, across gate instances (fixed noise bank).
  assert.equal(g2.scoreBatch(imagesOf(blobs(30, 22), 1)).scores[0], id[0]);
  g2.dispose();
  await assert.rejects(openGate({ checkpoint: run.dir, detector: 'elbo', samples: 3 }), /recalibrate/);
  await assert.rejects(openGate({ checkpoint: run.dir, detector: 'elbo', tpr: 0.5 }), /--tpr applies to a new calibration/);
  writeFileSync(file, '{"format": "oodgen-calibration/1"');
  await assert.rejects(openGate({ checkpoint: run.dir, detector: 'elbo' }), /corrupt calibration/);
  saved.weights.sha256 = '0'.repeat(64);
  writeFileSync(file, JSON.stringify(saved));
  await assert.rejects(openGate({ checkpoint: run.dir, detector: 'elbo' }), /other weights/);
  await assert.rejects(openGate({ checkpoint: run.dir, detector: 'rec', calibrate: { ...blobs(4), shape: [1, 1, 56, 56], images: new Float32Array(56 * 56) } }), /1x56x56.*1x28x28/);
  assert.equal(liveTensors(), base);
});
