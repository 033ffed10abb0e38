// Likelihood regret (Xiao et al. 2020): the per-image loop against a PyTorch transcription of the reference code
// (copy the encoder, Adam with weight decay on the one-sample ELBO, decoder frozen, eval BatchNorm; IWAE with the
// same noise before and after), and the batched form (stacked encoder copies, grouped convolutions) against the loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, randn, liveTensors, keep, type Tensor } from '../../src/engine/index.js';
import { regretBatched, regretLoop, type RegretNoise } from '../../src/scores/likelihood-regret.js';
import { OodgenError } from '../../src/errors.js';
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
