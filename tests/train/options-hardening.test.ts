// Issue 11 item 5: shape conversions reported and refusable, --sigma2 learned with Soft-IntroVAE, a CUDA index
// that does not exist, and valFraction 0 (no validation instead of validating on the training images).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, liveTensors, checkCudaIndex, resolveDevice, cuda } from '../../src/engine/index.js';
import { OodgenError } from '../../src/errors.js';
import { createModel } from '../../src/models/factory.js';
import type { ModelConfig } from '../../src/models/types.js';
import { saveStateDict } from '../../src/io/checkpoint.js';
import { parseTrainOptions } from '../../src/cli/train-options.js';
import { train } from '../../src/train/trainer.js';
import { runScore } from '../../src/cli/score.js';
import { loadForModel } from '../../src/cli/args.js';
import { writeIdxPair } from '../data/helpers.js';
import { tempDir } from '../helpers/tmp.js';
import { tinySet } from './tiny-set.js';

const dir = tempDir('item5');
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('--model sintro --sigma2 learned is refused with the reason (log_sigma2 would belong to no optimizer)', async () => {
  await assert.rejects(parseTrainOptions({ model: 'sintro', sigma2: 'learned', data: 'fashion-mnist:train', out: join(dir, 'x'), epochs: '1' }),
    (e: Error) => e instanceof OodgenError && /Soft-IntroVAE cannot learn the decoder variance \(--sigma2 learned\).*neither of its two optimizers/.test(e.message));
  assert.throws(() => createModel({ kind: 'sintro', decoder: 'gaussian', sigma2: 'learned', channels: 1, imageSize: 32, zDim: 2, width: 4 }),
    /Soft-IntroVAE cannot learn the decoder variance/);
  // A VAE learns it (one Adam over all parameters, log_sigma2 included).
  const o = await parseTrainOptions({ model: 'vae', sigma2: 'learned', data: 'fashion-mnist:train', out: join(dir, 'x'), epochs: '1' });
  assert.equal(o.model!.sigma2, 'learned');
});

test('a CUDA index that does not exist is a user error naming the device and the devices there are', () => {
  assert.throws(() => checkCudaIndex('cuda:7', 1), (e: Error) => e instanceof OodgenError && e.message === "device 'cuda:7' does not exist: this machine has 1 CUDA device (cuda:0); use --device cuda or one of those");
  assert.throws(() => checkCudaIndex('cuda:2', 2), /this machine has 2 CUDA devices \(cuda:0 \.\. cuda:1\)/);
  checkCudaIndex('cuda:1', 2);
  checkCudaIndex('cuda', 1);
  // Through resolveDevice on this machine: without CUDA the no-CUDA error, with it the index check; an OodgenError either way.
  const n = cuda.deviceCount();
  assert.throws(() => resolveDevice(`cuda:${n + 6}`), (e: Error) => e instanceof OodgenError && e.message.includes(`cuda:${n + 6}`));
});

test('valFraction 0: no validation (no val ELBO, early stopping or best.safetensors), never the training set as validation', async () => {
  const start = liveTensors();
  const out = join(dir, 'noval');
  const cfg: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 2, width: 4 };
  const r = await train({ out, model: cfg, trainSet: tinySet(), batchSize: 8, valFraction: 0, epochs: 2, progress: 'none', grids: false });
  assert.equal(r.step, 6);
  assert.equal(r.lastVal, null);
  assert.equal(r.bestVal, null);
  assert.equal(r.config.data.valCount, 0);
  assert.equal(r.config.data.trainCount, 24);
  assert.equal(r.config.training.patience, null);
  assert.ok(!existsSync(join(out, 'best.safetensors')));
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const epochs = log.filter((l) => l.event === 'epoch');
  assert.equal(epochs.length, 2);
  for (const e of epochs) {
    assert.equal(e.validation, 'none (valFraction 0)');
    assert.ok(!('valElbo' in e));
  }
  assert.ok(!log.some((l) => l.event === 'final-val'));
  // Early stopping needs validation images: asking for both is an error.
  await assert.rejects(train({ out: join(dir, 'noval2'), model: cfg, trainSet: tinySet(), batchSize: 8, valFraction: 0, patience: 2, epochs: 1, progress: 'none', grids: false }),
    (e: Error) => e instanceof OodgenError && /patience 2 needs validation images, but valFraction 0/.test(e.message));
  assert.equal(liveTensors(), start);
});

function makeRun(name: string, model: ModelConfig): string {
  const runDir = join(dir, name);
  mkdirSync(runDir, { recursive: true });
  const m = createModel(model, { generator: Generator.cpu(7) });
  saveStateDict(join(runDir, 'model.safetensors'), m);
  m.dispose();
  writeFileSync(join(runDir, 'config.json'), JSON.stringify({
    format: 'oodgen-run/1', model,
    data: { train: 'noise:64', valFraction: 0.1, valLimit: 100, imageSize: model.imageSize, channels: model.channels, dequantize: true, preprocessing: null, trainCount: 58, valCount: 6 },
    training: { batchSize: 8, lr: 1e-3, betas: [0.9, 0.999], epochs: 1, maxSteps: null, timeBudgetMin: null, checkpointEvery: 100, logEvery: 10, patience: null, sintro: null },
    seed: 0, device: 'cpu', engine: { torch: '1.13.0', oodgen: '0.1.0' }, createdAt: new Date().toISOString(),
  }));
  return runDir;
}

test('shape conversions between data and checkpoint: reported once on the log and in the JSON; --strict-shape refuses them', async () => {
  const start = liveTensors();
  const data = join(dir, 'gray28');
  writeIdxPair(data, 't10k', 6, 28, 28); // 6 gray 28x28 images (the test split)
  const model: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 3, imageSize: 32, zDim: 2, width: 4, sigma2: 0.1 };
  const run = makeRun('rgb32', model);
  const logged: string[] = [];
  const out = join(dir, 'scores.json');
  await runScore({ checkpoint: run, data, score: 'elbo', batchSize: 3, out, log: (s) => logged.push(s) });
  const conv = logged.filter((l) => /converted/.test(l));
  assert.equal(conv.length, 1, logged.join('\n'));
  assert.match(conv[0]!, /images are 1x28x28, the checkpoint expects 3x32x32: converted \(channels 1 -> 3 \(gray replicated to RGB\); size 28x28 -> 32x32/);
  const j = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(j.shapeConversions.length, 2);
  assert.match(j.shapeConversions[0], /^channels 1 -> 3/);
  assert.match(j.shapeConversions[1], /^size 28x28 -> 32x32/);
  await assert.rejects(runScore({ checkpoint: run, data, score: 'elbo', batchSize: 3, out, strictShape: true }),
    (e: Error) => e instanceof OodgenError && e.message.includes(data) && /--strict-shape refuses the conversion/.test(e.message));
  // A set already at the checkpoint's shape: nothing to report, and --strict-shape accepts it.
  const same = await loadForModel('noise:4', { config: model }, undefined, 0, { strictShape: true, log: (s) => logged.push(s) });
  assert.deepEqual(same.conversions, []);
  assert.equal(logged.filter((l) => /converted/.test(l)).length, 1);
  assert.equal(liveTensors(), start);
});
