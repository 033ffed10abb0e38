// The model contract and registry (src/models/registry.ts): families by kind, one defaults table for the CLI and
// the library, per-family training steps behind createTrainer, and run folders written before the registry (with
// training.sintro instead of training.hyper) still resuming bit-identically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveTensors } from '../../src/engine/index.js';
import type { ImageSet } from '../../src/data/types.js';
import { listModels, modelFamily, registerModel, trainDefaults, unregisterModel } from '../../src/models/registry.js';
import { createModel, modelConfigProblems } from '../../src/models/factory.js';
import { capabilitiesOf } from '../../src/models/capabilities.js';
import { VAE, vaeFamily } from '../../src/models/vae.js';
import { train, type TrainOptions } from '../../src/train/trainer.js';
import { readRunConfig } from '../../src/train/run.js';
import { loadTensors } from '../../src/io/checkpoint.js';
import { parseTrainOptions } from '../../src/cli/train.js';
import { tempDir } from '../helpers/tmp.js';

function tinySet(n = 32): ImageSet {
  const images = new Float32Array(n * 32 * 32);
  for (let i = 0; i < images.length; i++) images[i] = ((i * 7919) % 256) / 255;
  return { images, shape: [n, 1, 32, 32], name: 'tiny:train', source: 'test' };
}

test('built-in families: ae, vae, sintro, glow, fvae with capabilities, decoders and config checks', () => {
  assert.deepEqual(listModels().map((f) => f.kind), ['ae', 'vae', 'sintro', 'glow', 'fvae']);
  for (const f of listModels()) {
    const m = createModel({ kind: f.kind, decoder: f.decoders[0]!, channels: 1, imageSize: 28, zDim: 2, width: 4 });
    // 'likelihood' is derived (an exact log p, or the parts of the ELBO / IWAE bound): every family but the AE.
    assert.deepEqual(capabilitiesOf(m), [...f.capabilities, ...(f.kind === 'ae' ? [] : ['likelihood'])], f.kind);
    m.dispose();
  }
  assert.match(modelConfigProblems({ kind: 'ae', decoder: 'categorical', channels: 1, imageSize: 28, zDim: 2, width: 4 }).join(), /no categorical decoder/);
  assert.match(modelConfigProblems({ kind: 'glowish', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 2, width: 4 }).join(), /unknown model kind 'glowish' \(ae, vae, sintro, glow, fvae\)/);
});

test('one defaults table: the library and `oodgen train` pick the same Soft-IntroVAE batch size, lr and hyper-parameters', async () => {
  for (const data of ['fashion-mnist:train', 'cifar10:train']) {
    const d = trainDefaults('sintro', data);
    const cli = await parseTrainOptions({ model: 'sintro', data, out: 'runs/x', epochs: '1' }, ['node', 'oodgen']);
    assert.equal(cli.batchSize, d.batchSize);
    assert.equal(cli.lr, d.lr);
    assert.equal(cli.model!.zDim, d.zDim);
    assert.deepEqual(cli.hyper, d.hyper);
  }
  assert.equal(trainDefaults('sintro', 'fashion-mnist:train').batchSize, 128);
  assert.equal(trainDefaults('sintro', 'cifar10:train').batchSize, 32);
  assert.equal(trainDefaults('vae', 'cifar10:train').batchSize, 64);
  // The library: a Soft-IntroVAE run labelled with its dataset gets the table's batch size (it used to get 64).
  const dir = tempDir('models');
  try {
    const r = await train({
      out: join(dir, 'r'), model: { kind: 'sintro', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 2, width: 4 },
      data: 'fashion-mnist:train', trainSet: { ...tinySet(160), name: 'fashion-mnist:train' }, valFraction: 0, maxSteps: 1, progress: 'none', grids: false,
    });
    assert.equal(r.config.training.batchSize, 128);
    assert.deepEqual(r.config.training.hyper, { betaKl: 1, betaRec: 1, betaNeg: 256, gammaR: 1e-8 });
    await assert.rejects(train({ out: join(dir, 'v'), model: { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 2, width: 4 }, trainSet: tinySet(), hyper: { betaNeg: 1 }, maxSteps: 1, progress: 'none' }), /takes no training hyper-parameters/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a family registered from outside src/ trains through its own createTrainer; the trainer has no per-kind code', async () => {
  let steps = 0;
  registerModel({
    ...vaeFamily, kind: 'test-counting-vae', title: 'a VAE that counts its steps',
    create: (config, init) => {
      const m = new VAE(config, init);
      const base = m.createTrainer.bind(m);
      m.createTrainer = (o) => {
        const t = base(o);
        return { ...t, step: (x, g) => { steps++; return t.step(x, g); } };
      };
      return m;
    },
  });
  const dir = tempDir('models');
  try {
    assert.throws(() => registerModel({ ...vaeFamily, kind: 'test-counting-vae' }), /already registered/);
    const r = await train({ out: join(dir, 'c'), model: { kind: 'test-counting-vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 2, width: 4 }, trainSet: tinySet(), batchSize: 8, valFraction: 0, maxSteps: 3, progress: 'none', grids: false });
    assert.equal(r.step, 3);
    assert.equal(steps, 3);
    assert.equal(modelFamily('test-counting-vae').title, 'a VAE that counts its steps');
  } finally {
    unregisterModel('test-counting-vae');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run folders from before the registry (training.sintro, no training.hyper) load and resume bit-identically', async () => {
  const dir = tempDir('models');
  const set = tinySet();
  const start = liveTensors();
  try {
    for (const kind of ['vae', 'sintro'] as const) {
      const base: TrainOptions = {
        out: '', model: { kind, decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 2, width: 4 }, trainSet: set,
        batchSize: 8, valFraction: 0.25, valLimit: 8, progress: 'none', checkpointEvery: 5, patience: null, grids: false, seed: 2,
      };
      await train({ ...base, out: join(dir, `${kind}-a`), maxSteps: 12 });
      await train({ ...base, out: join(dir, `${kind}-b`), maxSteps: 6 });
      // Rewrite config.json as the pre-registry code wrote it.
      const p = join(dir, `${kind}-b`, 'config.json');
      const cfg = JSON.parse(readFileSync(p, 'utf8'));
      cfg.training.sintro = cfg.training.hyper;
      delete cfg.training.hyper;
      writeFileSync(p, JSON.stringify(cfg, null, 2));
      assert.deepEqual(readRunConfig(join(dir, `${kind}-b`)).training.sintro, kind === 'sintro' ? { betaKl: 1, betaRec: 1, betaNeg: 256, gammaR: 1e-8 } : null);
      await train({ out: join(dir, `${kind}-b`), resume: true, trainSet: set, maxSteps: 12, progress: 'none', grids: false });
      const A = loadTensors(join(dir, `${kind}-a`, 'model.safetensors')).tensors, B = loadTensors(join(dir, `${kind}-b`, 'model.safetensors')).tensors;
      for (const [k, t] of A) {
        assert.deepEqual(t.toFloat32Array(), B.get(k)!.toFloat32Array(), `${kind}: ${k}`);
      }
      for (const t of [...A.values(), ...B.values()]) t.dispose();
    }
    assert.equal(liveTensors(), start);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
