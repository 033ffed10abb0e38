// glow and fvae as registered model families: the CLI's options build their configs (flow sizes recorded), train()
// trains them into a run folder that loadRun reads back, the exact-likelihood detector 'exact-nll' scores a Glow run
// (bits/dim column in closed form from its log-likelihood), and the latent-model scores refuse a flow clearly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Generator, liveTensors, rand, tidy, noGrad, fromTypedArray } from '../../src/engine/index.js';
import { modelKinds } from '../../src/models/registry.js';
import { parseTrainOptions } from '../../src/cli/train.js';
import { train } from '../../src/train/trainer.js';
import { loadRun } from '../../src/train/run.js';
import { createDetector, scoreDataset } from '../../src/scores/index.js';
import { OodgenError } from '../../src/errors.js';
import type { ImageSet } from '../../src/data/types.js';
import type { Glow } from '../../src/models/glow.js';
import { tempDir } from '../helpers/tmp.js';

const argv = ['node', 'oodgen'];
const ROOT = new URL('../..', import.meta.url).pathname;

test('glow and fvae are registered; the CLI builds their configs with flow sizes and refuses flow flags elsewhere', async () => {
  assert.ok(modelKinds().includes('glow') && modelKinds().includes('fvae'));
  const g = await parseTrainOptions({ model: 'glow', data: 'fashion-mnist:train', out: 'runs/x', maxSteps: '1', flowLevels: '2', lu: false }, argv);
  assert.deepEqual(g.model!.flow, { levels: 2, steps: 8, width: 128, lu: false });
  const f = await parseTrainOptions({ model: 'fvae', data: 'fashion-mnist:train', out: 'runs/x', maxSteps: '1', zDim: '1024', sigma2: '0.1', beta: '10' }, argv);
  assert.equal(f.model!.zDim, 1024);
  assert.equal(f.model!.flow, undefined, 'defaults are filled by the family when the run is written');
  await assert.rejects(parseTrainOptions({ model: 'vae', data: 'fashion-mnist:train', out: 'runs/x', maxSteps: '1', flowSteps: '2' }, argv),
    (e: Error) => e instanceof OodgenError && /--flow-steps: flow sizes apply to --model glow and fvae only/.test(e.message));
  await assert.rejects(parseTrainOptions({ model: 'fvae', data: 'fashion-mnist:train', out: 'runs/x', maxSteps: '1', zDim: '2000' }, argv),
    (e: Error) => e instanceof OodgenError && /z dim must be an integer from 2 to dim\(x\) = 1024/.test(e.message));
  await assert.rejects(parseTrainOptions({ model: 'glow', data: 'fashion-mnist:train', out: 'runs/x', maxSteps: '1', imageSize: '28', flowLevels: '3' }, argv),
    (e: Error) => e instanceof OodgenError && /at most 2 levels here/.test(e.message));
  await assert.rejects(parseTrainOptions({ model: 'glow', data: 'fashion-mnist:train', out: 'runs/x', maxSteps: '1', zDim: '64' }, argv),
    (e: Error) => e instanceof OodgenError && /--z-dim 64: --model glow sets it to 1024/.test(e.message));
  await assert.rejects(parseTrainOptions({ model: 'glow', data: 'fashion-mnist:train', out: 'runs/x', maxSteps: '1', width: '64', flowWidth: '32' }, argv),
    (e: Error) => e instanceof OodgenError && /--width 64: --model glow sets it to 32/.test(e.message));
  // without --flow-levels a 28x28 Glow gets the levels that fit
  const g28 = await parseTrainOptions({ model: 'glow', data: 'fashion-mnist:train', out: 'runs/x', maxSteps: '1', imageSize: '28', flowSteps: '4' }, argv);
  assert.deepEqual(g28.model!.flow, { levels: 2, steps: 4, width: 128, lu: true });
  await assert.rejects(parseTrainOptions({ model: 'fvae', data: 'fashion-mnist:train', out: 'runs/x', maxSteps: '1', decoder: 'categorical' }, argv),
    (e: Error) => e instanceof OodgenError && /cannot have --decoder categorical/.test(e.message));
});

function images(n: number, seed: number): ImageSet {
  const t = rand([n, 1, 32, 32], { generator: Generator.cpu(seed) });
  const v = t.toFloat32Array();
  t.dispose();
  // quantise to 8-bit levels, as real data
  for (let i = 0; i < v.length; i++) v[i] = Math.round(v[i]! * 255) / 255;
  return { images: v, shape: [n, 1, 32, 32], name: 'random', source: 'test' };
}

test('train() writes glow and fvae runs that loadRun restores; exact-nll scores a Glow run, iwae refuses it', async () => {
  const start = liveTensors();
  const dir = tempDir('flows');
  try {
    const set = images(24, 70);
    const runs = {
      glow: { kind: 'glow', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 1, width: 8, flow: { levels: 2, steps: 1, width: 8, lu: true } },
      fvae: { kind: 'fvae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 16, width: 4, sigma2: 'learned' },
    } as const;
    for (const [name, model] of Object.entries(runs)) {
      const out = join(dir, name);
      await train({ out, model: { ...model }, trainSet: set, maxSteps: 2, batchSize: 8, valLimit: 8, progress: 'none', bnAdaptSamples: 16 });
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      assert.ok(cfg.model.flow, `${name}: flow sizes recorded in config.json`);
      assert.equal(cfg.data.dequantize, true, `${name}: a continuous density trains on dequantized pixels`);
      assert.ok(existsSync(join(out, 'samples.png')), `${name}: samples.png`);
      if (name === 'glow') assert.equal(cfg.model.zDim, 1024, 'a flow\'s latent has dim(x)');
      else assert.deepEqual(cfg.model.flow, { levels: 1, steps: 8, width: 64, lu: true });
    }
    const { model } = loadRun(join(dir, 'glow'));
    const det = createDetector('exact-nll', model, {});
    const r = scoreDataset(det, { images: set.images, shape: set.shape }, { batchSize: 10 });
    const ll = tidy(() => noGrad(() => (model as unknown as Glow).logProb(fromTypedArray(set.images as Float32Array, set.shape)).toFloat32Array()));
    r.columns.loglik!.forEach((v, i) => assert.ok(Math.abs(v - ll[i]!) < 1e-3 && Math.abs(r.score[i]! + v) < 1e-6, `nll[${i}]`));
    r.columns.bpd!.forEach((v, i) => assert.ok(Math.abs(v - (-ll[i]! / (1024 * Math.LN2) + 8)) < 1e-4, `bpd[${i}]`));
    assert.throws(() => createDetector('iwae', model, { k: 2 }), (e: Error) => e instanceof OodgenError && /a glow model has log-likelihood, sample/.test(e.message));
    model.dispose();
    // oodgen sample --sharpness: the f-VAE's samples (drawn through its flow prior) against real images
    const png = join(dir, 'fvae-samples.png');
    const cli = spawnSync(process.execPath, [join(ROOT, 'bin/oodgen.js'), 'sample', '--checkpoint', join(dir, 'fvae'), '--n', '4', '--bn-adapt', '8',
      '--temperature', '0.8', '--out', png, '--sharpness', 'noise:4'], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    const sh = JSON.parse(readFileSync(join(dir, 'fvae-samples.sharpness.json'), 'utf8'));
    assert.equal(sh.samples.n, 4);
    assert.ok(sh.real.gradient > 0 && Math.abs(sh.gradientRatio - sh.samples.gradient / sh.real.gradient) < 1e-12);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(liveTensors(), start);
});
