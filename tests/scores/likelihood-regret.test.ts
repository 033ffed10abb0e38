// Likelihood regret (Xiao et al. 2020): the per-image loop against a PyTorch transcription of the reference code
// (copy the encoder, Adam with weight decay on the one-sample ELBO, decoder frozen, eval BatchNorm; IWAE with the
// same noise before and after), and the batched form (stacked encoder copies, grouped convolutions) against the loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, randn, liveTensors, keep, type Tensor } from '../../src/engine/index.js';
import { regretBatched, regretLoop, type RegretNoise } from '../../src/scores/likelihood-regret.js';
import { OodgenError } from '../../src/errors.js';
import { createDetector } from '../../src/scores/registry.js';
import { scoreDataset, scoreDatasetAsync } from '../../src/scores/driver.js';
import { assertClose, blobs, exportModel, exportTensors, oracle, skipNoTorch, tinyModel, tmp } from './oracle-helpers.js';

const noiseFor = (steps: number, k: number, b: number, z: number, seed: number): RegretNoise => ({
  train: keep(randn([steps, b, z], { generator: Generator.cpu(seed) })),
  iwae: keep(randn([k, b, z], { generator: Generator.cpu(seed + 1) })),
});

for (const decoder of ['gaussian', 'categorical'] as const) {
  test(`${decoder}: the per-image loop equals the PyTorch reference loop`, { skip: skipNoTorch }, () => {
    const start = liveTensors();
    const dir = tmp();
    const model = tinyModel({ decoder }, 11);
    const x = blobs(3, 5);
    const o = { steps: 10, k: 8, lr: 2e-3, weightDecay: 5e-5 };
    const n = noiseFor(o.steps, o.k, 3, 4, 21);
    const r = regretLoop(model, x, n, o);
    const ref = oracle(dir, {
      cmd: 'regret', ...exportModel(dir, 'm', model), x: exportTensors(dir, 'x', { x }),
      eps: exportTensors(dir, 'eps', { eps_train: n.train, eps_iwae: n.iwae }), steps: o.steps, lr: o.lr, wd: o.weightDecay,
    });
    // float32 vs float64 over 10 Adam steps: NLLs of ~10^3 nats agree to ~1e-4 relative; the regret itself (a few
    // nats) to well under its size.
    assertClose(r.before, ref.before!, { rel: 2e-5, abs: 1e-3 }, 'NLL before');
    assertClose(r.after, ref.after!, { rel: 1e-4, abs: 1e-2 }, 'NLL after');
    assertClose(r.regret, ref.regret!, { abs: decoder === 'gaussian' ? 0.05 : 0.2 }, 'regret');
    x.dispose(); n.train.dispose(); n.iwae.dispose(); model.dispose();
    assert.equal(liveTensors(), start);
  });

  test(`${decoder}: the batched form (grouped convolutions) equals the loop`, () => {
    const start = liveTensors();
    const model = tinyModel({ decoder }, 12);
    const x = blobs(4, 9);
    const o = { steps: 10, k: 6, lr: 2e-3 };
    const n = noiseFor(o.steps, o.k, 4, 4, 31);
    const loop = regretLoop(model, x, n, o);
    const all = regretBatched(model, x, n, o);
    const grouped = regretBatched(model, x, n, { ...o, group: 3 }); // groups of 3 and 1
    assertClose(all.before, loop.before, { rel: 1e-6, abs: 1e-4 }, 'before');
    const tol = decoder === 'gaussian' ? 2e-3 : 2e-2;
    assertClose(all.regret, loop.regret, { abs: tol }, 'regret (one group)');
    assertClose(grouped.regret, loop.regret, { abs: tol }, 'regret (groups of 3 and 1)');
    const p0 = model.encoder.parameters()[0]!.toArray().slice(0, 5);
    const fresh = tinyModel({ decoder }, 12);
    assert.deepEqual(fresh.encoder.parameters()[0]!.toArray().slice(0, 5), p0, 'the original encoder is unchanged');
    fresh.dispose();
    assert.ok(model.parameters().every((p) => p.requiresGrad), 'parameters are trainable again afterwards');
    x.dispose(); n.train.dispose(); n.iwae.dispose(); model.dispose();
    assert.equal(liveTensors(), start);
  });
}

test('bad noise shapes and options are refused with the shapes', () => {
  const model = tinyModel({}, 1);
  const x = blobs(2);
  const n = noiseFor(3, 4, 2, 4, 1);
  assert.throws(() => regretLoop(model, x, n, { steps: 5, k: 4 }), (e: Error) => e instanceof OodgenError && /\[3, 2, 4\], expected \[5, 2, 4\]/.test(e.message));
  assert.throws(() => regretBatched(model, x, n, { steps: 3, k: 9 }), /IWAE noise/);
  assert.throws(() => regretBatched(model, x, n, { steps: 3, k: 4, group: 0 }), /group/);
  x.dispose(); n.train.dispose(); n.iwae.dispose(); model.dispose();
});

test('interruptible scoring: same numbers as scoreDataset; an abort inside a batch stops between Adam steps and frees everything', async () => {
  const start = liveTensors();
  const model = tinyModel({}, 3);
  const withModel = liveTensors();
  const x = blobs(6, 4);
  const images = { images: x.toFloat32Array(), shape: [6, 1, 28, 28] as [number, number, number, number], name: 'blobs' };
  x.dispose();
  for (const regretMode of ['batched', 'loop']) {
    const opts = { steps: 5, k: 4, lr: 2e-3, group: 2, regretMode };
    const sync = scoreDataset(createDetector('likelihood-regret', model, opts), images, { batchSize: 4 });
    const ac = new AbortController();
    const steps = await scoreDatasetAsync(createDetector('likelihood-regret', model, opts), images, { batchSize: 4, signal: ac.signal });
    assert.deepEqual(steps.score, sync.score, regretMode);
    assert.deepEqual(steps.columns, sync.columns, regretMode);
  }
  // A batch that would run for hours (10^6 Adam steps): the abort, from a timer, is seen at the next step.
  for (const regretMode of ['batched', 'loop']) {
    const ac = new AbortController();
    const det = createDetector('likelihood-regret', model, { steps: 1_000_000, k: 4, regretMode });
    let steps = 0;
    const timer = setInterval(() => { if (++steps === 20) ac.abort(); }, 1);
    try {
      await assert.rejects(scoreDatasetAsync(det, images, { batchSize: 6, signal: ac.signal }), (e: Error) => e.name === 'AbortError');
    } finally {
      clearInterval(timer);
    }
    assert.equal(liveTensors(), withModel, `${regretMode}: the noise, encoder copies, Adam state and the batch are freed`);
    assert.ok(model.parameters().every((p) => p.requiresGrad), 'parameters are trainable again');
  }
  model.dispose();
  assert.equal(liveTensors(), start);
});
