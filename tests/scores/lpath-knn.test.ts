// lpath-knn against an independent oracle (tests/fixtures/lpath_knn_oracle.py): scikit-learn's normalize and
// NearestNeighbors (leave-one-out reference distances) and a NumPy transcription of Fisher's combination of
// conformal p-values; end to end, the statistics and codes come from the PyTorch reference model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveTensors } from '../../src/engine/index.js';
import { Rng } from '../../src/data/rng.js';
import { OodgenError } from '../../src/errors.js';
import { LpathKnnDetector, fitLpathKnn, kthNeighbourDistance, normaliseRows, scoreLpathKnn } from '../../src/scores/lpath-knn.js';
import { saveDetectorState, loadDetectorState } from '../../src/scores/state.js';
import { createDetector } from '../../src/scores/index.js';
import type { Images } from '../../src/data/types.js';
import { PY, assertClose, blobs, exportModel, exportTensors, skipNoTorch, tinyModel, tmp } from './oracle-helpers.js';

const script = new URL('../fixtures/lpath_knn_oracle.py', import.meta.url).pathname;

function knnOracle(dir: string, request: Record<string, unknown>): { score: number[]; knn: number[]; used: string[] } {
  const req = join(dir, `req-knn-${String(request.cmd)}.json`);
  writeFileSync(req, JSON.stringify(request));
  const r = spawnSync(PY, [script, req], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `lpath-knn oracle failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as { score: number[]; knn: number[]; used: string[] };
}

function synthetic(n: number, z: number, seed: number): { stats: Record<string, Float64Array>; mu: Float64Array } {
  const r = new Rng(seed);
  const stats = { u: new Float64Array(n), v: new Float64Array(n), w: new Float64Array(n), s: new Float64Array(n).fill(2.5) };
  const mu = new Float64Array(n * z);
  for (let i = 0; i < n; i++) {
    // Three clusters of codes, so the k-th neighbour distance varies; u rounded to create ties with the reference.
    const c = i % 3;
    for (let j = 0; j < z; j++) mu[i * z + j] = (j === c ? 3 : 0) + 0.4 * r.normal();
    stats.u[i] = Math.round(20 * Math.exp(0.4 * r.normal())) / 2;
    stats.v[i] = Math.hypot(...mu.subarray(i * z, (i + 1) * z));
    stats.w[i] = 1 + 0.2 * r.next();
  }
  return { stats, mu };
}

const nested = (a: Float64Array, z: number): number[][] => Array.from({ length: a.length / z }, (_, i) => [...a.subarray(i * z, (i + 1) * z)]);
const plain = (s: Record<string, Float64Array>): Record<string, number[]> => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, [...v]]));

test('Fisher score and k-th neighbour distances equal scikit-learn + NumPy (ties, a constant statistic, leave-one-out)', { skip: skipNoTorch }, () => {
  const z = 5, k = 3;
  const train = synthetic(120, z, 1), probe = synthetic(20, z, 2);
  // A training point itself (ties in every statistic) and a far code.
  probe.mu.set(train.mu.subarray(0, z), 0);
  for (const s of ['u', 'v', 'w'] as const) probe.stats[s][0] = train.stats[s][0]!;
  probe.mu.set([0, 0, 0, 0, 9], z);
  const st = fitLpathKnn(train.stats, train.mu, 120, z, k);
  assert.deepEqual(st.used, ['u', 'v', 'w', 'knn']);
  assert.deepEqual(st.dropped, ['s']);
  const mine = scoreLpathKnn(st, probe.stats, probe.mu, 20);
  const ref = knnOracle(tmp(), { cmd: 'numbers', train_stats: plain(train.stats), train_mu: nested(train.mu, z), test_stats: plain(probe.stats), test_mu: nested(probe.mu, z), neighbours: k });
  assert.deepEqual(ref.used, st.used);
  assertClose(mine.values.knn!, ref.knn, { abs: 1e-12, rel: 1e-9 }, 'k-th neighbour distance');
  assertClose(mine.score, ref.score, { abs: 1e-9, rel: 1e-9 }, 'Fisher score');
  // The smallest possible p-value (1/(n+1)) in every statistic bounds the score.
  const max = -2 * st.used.length * Math.log(1 / 121);
  assert.ok(mine.score.every((v) => v >= 0 && v <= max + 1e-9));
});

test('lpath-knn detector end to end equals the oracle on the PyTorch reference model; state round trip; no leaked tensors', { skip: skipNoTorch }, async () => {
  const start = liveTensors();
  const dir = tmp();
  const model = tinyModel({ decoder: 'gaussian', sigma2: 'learned' }, 7);
  const xTrain = blobs(48, 3), xTest = blobs(12, 9);
  const images: Images = { images: xTrain.toFloat32Array(), shape: [48, 1, 28, 28], name: 'blobs' };
  const det = new LpathKnnDetector(model, { neighbours: 4 });
  await det.fit(images, { batchSize: 20 });
  const r = det.evaluate(xTest);
  const ref = knnOracle(dir, {
    cmd: 'model', ...exportModel(dir, 'm', model), neighbours: 4,
    train: exportTensors(dir, 'train', { x: xTrain }), test: exportTensors(dir, 'test', { x: xTest }),
  });
  assert.deepEqual(ref.used, ['u', 'v', 'w', 'knn'], 's is constant for a per-channel variance and dropped');
  assertClose(r.columns.knn!, ref.knn, { rel: 1e-4, abs: 1e-5 }, 'knn');
  assertClose(r.score, ref.score, { abs: 1e-4 }, 'score');
  assert.ok(new Set(r.score).size > 3, 'scores vary across images');

  saveDetectorState(dir, det);
  const again = createDetector('lpath-knn', [model], { neighbours: 4 });
  assert.equal(loadDetectorState(dir, again), true);
  assertClose(again.evaluate(xTest).score, r.score, { abs: 0 }, 'score after reload');
  assert.throws(() => loadDetectorState(dir, createDetector('lpath-knn', [model], { neighbours: 2 })), /neighbours = 4/);
  xTrain.dispose(); xTest.dispose(); model.dispose();
  assert.equal(liveTensors(), start);
});

test('lpath-knn errors: too few codes for k, a NaN statistic, not fitted, a bad option', () => {
  const z = 3, train = synthetic(4, z, 5);
  assert.throws(() => fitLpathKnn(train.stats, train.mu, 4, z, 4), (e: unknown) => e instanceof OodgenError && /\[1, 3\]/.test(e.message));
  assert.throws(() => fitLpathKnn(train.stats, train.mu.subarray(0, 5), 4, z, 1), OodgenError);
  const st = fitLpathKnn(train.stats, train.mu, 4, z, 1);
  const bad = synthetic(2, z, 6);
  bad.stats.u[1] = NaN;
  assert.throws(() => scoreLpathKnn(st, bad.stats, bad.mu, 2), /'u' of image 1 is NaN/);
  const model = tinyModel({}, 1);
  const det = new LpathKnnDetector(model);
  const x = blobs(2);
  assert.throws(() => det.evaluate(x), /not fitted/);
  assert.throws(() => new LpathKnnDetector(model, { neighbours: 0 }), OodgenError);
  x.dispose(); model.dispose();
});

test('kthNeighbourDistance: brute force against sorting all distances; normaliseRows keeps a zero row zero', () => {
  const r = new Rng(3), d = 4, nb = 30, nq = 7;
  const bank = Float64Array.from({ length: nb * d }, () => r.normal());
  const q = Float64Array.from({ length: nq * d }, () => r.normal());
  for (const k of [1, 2, 7]) {
    const got = kthNeighbourDistance(bank, nb, q, nq, d, k);
    for (let a = 0; a < nq; a++) {
      const all = Array.from({ length: nb }, (_, b) => Math.hypot(...Array.from({ length: d }, (_, j) => q[a * d + j]! - bank[b * d + j]!))).sort((x, y) => x - y);
      assert.ok(Math.abs(got[a]! - all[k - 1]!) < 1e-12);
    }
  }
  const n = normaliseRows([3, 4, 0, 0], 2, 2);
  assertClose(n, [0.6, 0.8, 0, 0], { abs: 1e-15 }, 'normalised rows');
});
