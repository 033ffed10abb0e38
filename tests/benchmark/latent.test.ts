// The benchmark's latent experiment: the move along w against a closed form (a linear model whose decoder and
// encoder are exact inverses, so a re-encoded moved code lands exactly where it was moved), the unit's numbers
// equal src/analysis's fitLatent on the same data, a rerun is served from the cache, no tensor leaks, and a suite
// validates the experiment like the others.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { add, fromTypedArray, liveTensors, matmul, mul, sub, type Tensor } from '../../src/engine/index.js';
import { loadDataset } from '../../src/index.js';
import type { LatentModel } from '../../src/models/types.js';
import { parseSuite } from '../../src/benchmark/suite.js';
import { runBenchmark } from '../../src/benchmark/run.js';
import { moveAlongNormal } from '../../src/benchmark/latent.js';
import { fitLatent } from '../../src/analysis/latent-fit.js';
import { loadRun } from '../../src/train/run.js';
import { SYNTH_PAIRS, writeZoo } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('bench-latent');
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A 2-D code, 1x2x2 image "model": decode(z) = 0.5 + 0.05 z A, encode(x) = 20 (x - 0.5) A^T with A's rows
 * orthonormal, so encode(decode(z)) = z exactly while the pixels stay inside [0, 1].
 */
function linearModel(): LatentModel {
  const A = fromTypedArray(Float32Array.from([0.5, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, -0.5]), [2, 4]);
  const At = fromTypedArray(Float32Array.from([0.5, 0.5, 0.5, -0.5, 0.5, 0.5, 0.5, -0.5]), [4, 2]);
  const m = {
    config: { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 2, zDim: 2, width: 1 },
    device: 'cpu',
    namedModules: () => [],
    eval() { return m; },
    decode: (z: Tensor) => add(mul(matmul(z, A), 0.05), 0.5).reshape([z.shape[0]!, 1, 2, 2]), // (B, 1, 2, 2)
    mean: (t: Tensor) => t,
    encode: (x: Tensor) => ({ mu: mul(matmul(sub(x.reshape([x.shape[0]!, 4]), 0.5), At), 20), logvar: null }), // (B, 2)
    dispose() { A.dispose(); At.dispose(); },
  };
  return m as unknown as LatentModel;
}

/** The hyperplane 0.6 z0 + 0.8 z1 + 0.5 = 0 (unit normal (0.6, 0.8)). */
const svm = {
  d: 2,
  normal: () => Float64Array.from([0.6, 0.8]),
  decision: (X: ArrayLike<number>, n: number) => Float64Array.from({ length: n }, (_, i) => 0.6 * X[2 * i]! + 0.8 * X[2 * i + 1]! + 0.5),
};

test('move along w: an exact decoder/encoder pair puts every moved code at the target depth (closed form)', async () => {
  const base = liveTensors();
  const model = linearModel();
  try {
    // Five codes, all on the OoD side (d = -1.5, -0.9, -2.3, -0.1, -3.0); a sixth on the ID side is not asked for.
    const codes = Float32Array.from([-2, -1, -1, -0.5, -3, -1, 0, -0.75, -3, -1.75, 2, 2]);
    const rows = [0, 1, 2, 3, 4];
    // The pixel judge: the same hyperplane on the pixels mapped back by the inverse of the decoder (a closed form
    // too: it must agree with the code judge).
    const project = (px: Float32Array) => {
      const n = px.length / 4, out = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const q = [0, 1, 2, 3].map((j) => 20 * (px[4 * i + j]! - 0.5));
        out[2 * i] = 0.5 * (q[0]! + q[1]! + q[2]! + q[3]!);
        out[2 * i + 1] = 0.5 * (q[0]! - q[1]! + q[2]! - q[3]!);
      }
      return out;
    };
    const toId = await moveAlongNormal(model, svm, codes, rows, 0.7, { bn: 'eval', batchSize: 2, pixelJudge: { project, svm } });
    assert.deepEqual([toId.moved.k, toId.moved.n, toId.unmoved.k, toId.unmoved.n], [5, 5, 0, 5]);
    assert.deepEqual([toId.pixels!.moved.k, toId.pixels!.unmoved.k], [5, 0]);
    assert.equal(toId.depth, 0.7);
    // A target still on the OoD side: nothing crosses.
    const short = await moveAlongNormal(model, svm, codes, rows, -0.3, { bn: 'eval', batchSize: 4 });
    assert.deepEqual([short.moved.k, short.unmoved.k], [0, 0]);
    // Just past the boundary: all five cross.
    assert.equal((await moveAlongNormal(model, svm, codes, rows, 0.05, { bn: 'eval', batchSize: 5 })).moved.k, 5);
    assert.deepEqual((await moveAlongNormal(model, svm, codes, [], 0.7, { bn: 'eval', batchSize: 5 })).moved, { k: 0, n: 0, p: NaN, ci: [0, 1] });
  } finally {
    model.dispose();
  }
  assert.equal(liveTensors(), base);
});

test('latent experiment: numbers equal fitLatent on the same data, rerun cached, no leak', async () => {
  const zoo = join(dir, 'zoo');
  writeZoo(zoo);
  const base = liveTensors();
  const suite = parseSuite({
    name: 'lat', limit: 24, bootstrap: 10, batchSize: 8,
    experiments: [{ name: 'lat', kind: 'latent', models: ['tiny-vae', 'tiny-ae'], pairs: SYNTH_PAIRS, svmC: 0.5 }],
  }, 'test');
  const cacheDir = join(dir, 'cache');
  const r = await runBenchmark({ suite, cacheDir, zoo, progressBars: false });
  assert.deepEqual(r.counts, { planned: 2, computed: 2, cached: 0 });
  assert.deepEqual(r.latent.map((u) => [u.model, u.idTrain, u.id, u.pairs.map((p) => p.pair)]), [
    ['tiny-vae', 'gaussian-noise:64', 'gaussian-noise:24', ['g-noise', 'g-const']],
    ['tiny-ae', 'gaussian-noise:64', 'gaussian-noise:24', ['g-noise', 'g-const']],
  ]);
  const again = await runBenchmark({ suite, cacheDir, zoo, progressBars: false });
  assert.deepEqual(again.counts, { planned: 2, computed: 0, cached: 2 });
  assert.deepEqual(again.latent.map((u) => u.pairs), r.latent.map((u) => u.pairs));

  // The same analysis called directly (src/analysis), same sets, seed, batches and C.
  const run = loadRun(join(zoo, 'tiny-vae'));
  try {
    const load = async (spec: string) => ({ ...(await loadDataset(spec, { imageSize: 28, channels: 1, limit: 24, seed: 0 })).set, name: spec });
    const fit = await fitLatent({
      model: run.model, idTrain: await load('gaussian-noise:64'), idTest: await load('gaussian-noise:24'),
      ood: [{ name: 'noise:24', set: await load('noise:24') }, { name: 'constant:24', set: await load('constant:24') }],
      outDir: join(dir, 'direct'), seed: 0, embed: 'none', batchSize: 8, svmC: 0.5,
    });
    const u = r.latent[0]!;
    u.pairs.forEach((p, j) => {
      const row = fit.table[2 * j]!;
      assert.equal(p.positive.p, row.positiveAccuracy);
      assert.equal(p.negative.p, row.negativeAccuracy);
      assert.deepEqual([p.positive.n, p.negative.n], [row.heldOut.positive, row.heldOut.negative]);
      assert.deepEqual(p.fit, row.fit);
      assert.equal(p.auroc, row.auroc);
      assert.equal(p.pixels.positive.p, fit.table[2 * j + 1]!.positiveAccuracy);
      // Moved codes: exactly the held-out OoD codes on the OoD side.
      assert.equal(p.move.moved.n, Array.from(fit.held[j]!.dOod).filter((d) => d < 0).length);
      assert.equal(p.move.unmoved.n, p.move.moved.n);
      assert.deepEqual([p.move.pixels!.moved.n, p.move.pixels!.unmoved.n], [p.move.moved.n, p.move.moved.n]);
    });
    assert.equal(u.control.auroc, fit.table[fit.table.length - 1]!.auroc);
  } finally {
    run.model.dispose();
  }
  assert.equal(liveTensors(), base);
});

test('latent experiment: validated like the rest; a model without its training data is skipped with the reason', async () => {
  assert.throws(() => parseSuite({ name: 'x', experiments: [{ name: 'e', kind: 'latent', models: ['m'], pairs: ['fmnist-mnist'], detectors: ['elbo'] }] }, 'f.json'),
    /suite f\.json: experiments\.0: Unrecognized key\(s\) in object: 'detectors'/);
  assert.throws(() => parseSuite({ name: 'x', experiments: [{ name: 'e', kind: 'latent', models: ['m'], pairs: ['fmnist-mnist'], bn: ['eval'] }] }, 'f.json'), /experiments\.0\.bn/);
  assert.throws(() => parseSuite({ name: 'x', experiments: [{ name: 'e', kind: 'latnt', models: ['m'], pairs: ['p'] }] }, 'f.json'), /experiments\.0\.kind: Invalid discriminator value/);
  assert.throws(() => parseSuite({ name: 'x', experiments: [{ name: 'e', kind: 'latent', models: ['m'], pairs: ['p'], limit: 4 }] }, 'f.json'), /experiments\.0\.limit/);
  const zoo = join(dir, 'zoo-mem');
  const { writeRun, TINY } = await import('./helpers.js');
  writeRun(zoo, 'in-mem', TINY, 5, 'in-memory');
  const s = parseSuite({ name: 'x', limit: 24, experiments: [{ name: 'e', kind: 'latent', models: ['in-mem', 'absent'], pairs: SYNTH_PAIRS }] }, 't');
  const r = await runBenchmark({ suite: s, cacheDir: join(dir, 'cache-mem'), zoo, progressBars: false });
  assert.equal(r.counts.planned, 0);
  assert.deepEqual(r.skipped.map((x) => x.what).sort(), ['e: in-mem', 'e: model absent']);
  assert.match(r.skipped.find((x) => x.what === 'e: in-mem')!.why, /training data in-memory \(the ID codes the SVM fits on\) is not here/);
});

test('latent experiment: the stop-now signal interrupts a latent unit mid-way; nothing cached, no leak', async () => {
  const zoo = join(dir, 'zoo-stop');
  writeZoo(zoo);
  const base = liveTensors();
  const suite = parseSuite({
    name: 'lat', limit: 24, bootstrap: 10, batchSize: 8,
    experiments: [{ name: 'lat', kind: 'latent', models: ['tiny-vae'], pairs: SYNTH_PAIRS, svmC: 0.5 }],
  }, 'test');
  const cacheDir = join(dir, 'cache-stop');
  const finish = new AbortController(), now = new AbortController();
  const logs: string[] = [];
  // Both signals fire as the unit starts (the second Ctrl-C of the CLI): the unit must stop at its next stage
  // instead of running its encodings and SVMs to the end.
  const r = await runBenchmark({
    suite, cacheDir, zoo, signal: finish.signal, stopNow: now.signal, progressBars: false,
    log: (l) => { logs.push(l); if (/latent SVM .*: running/.test(l)) { finish.abort(); now.abort(); } },
  });
  assert.equal(r.interrupted, true);
  assert.deepEqual(r.counts, { planned: 1, computed: 0, cached: 0 });
  assert.equal(r.latent.length, 0);
  assert.ok(logs.some((l) => /latent SVM .*: interrupted after [0-9.]+ s; not cached/.test(l)), logs.join('\n'));
  assert.equal(liveTensors(), base);
  const again = await runBenchmark({ suite, cacheDir, zoo, progressBars: false });
  assert.deepEqual(again.counts, { planned: 1, computed: 1, cached: 0 });
});
