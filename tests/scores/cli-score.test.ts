// `oodgen score` and `oodgen eval` end to end on a tiny run folder and synthetic data sets.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, liveTensors } from '../../src/engine/index.js';
import { createModel } from '../../src/models/factory.js';
import { saveStateDict } from '../../src/io/checkpoint.js';
import type { ModelConfig } from '../../src/models/types.js';
import { runEval, runScore } from '../../src/cli/score.js';
import { buildProgram } from '../../src/cli/main.js';
import { registerBenchCommands } from '../../bench/cli.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('cli-score');
after(() => rmSync(dir, { recursive: true, force: true }));

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

const VAE: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4, sigma2: 0.1 };
const vaeRun = makeRun('vae', VAE);

test('runScore writes {"scores": [...]} with raw log-likelihoods and what made them', async () => {
  const start = liveTensors();
  const out = join(dir, 's.json');
  await runScore({ checkpoint: vaeRun, data: 'noise:30', score: 'iwae', k: 5, bn: 'enc', batchSize: 8, out });
  const j = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(j.scores.length, 30);
  assert.equal(j.columns.loglik.length, 30);
  j.scores.forEach((s: number, i: number) => assert.ok(Math.abs(s + j.columns.loglik[i]) < 1e-3));
  assert.equal(j.bn, 'enc');
  assert.equal(j.batching, 'per-dataset');
  assert.match(j.batchingNote, /one dataset only.*re-used the preceding 2 images/);
  assert.deepEqual(j.settings.k, 5);
  assert.equal(j.model.kind, 'vae');
  assert.equal(liveTensors(), start);
  // Mixed batches with another set.
  const mixed = await runScore({ checkpoint: vaeRun, data: 'noise:30', score: 'rec', bn: 'both', batchSize: 8, mixWith: 'constant:10' });
  assert.equal((mixed.scores as number[]).length, 30);
  assert.equal(mixed.batching, 'mixed');
});

test('the score command is registered and reports user errors clearly', async () => {
  const program = await buildProgram([registerBenchCommands]);
  assert.ok(program.commands.find((c) => c.name() === 'score'));
  assert.ok(program.commands.find((c) => c.name() === 'eval'));
  assert.ok(program.commands.find((c) => c.name() === 'bench')?.commands.find((c) => c.name() === 'score'));
  const aeRun = makeRun('ae', { ...VAE, kind: 'ae', sigma2: undefined } as ModelConfig);
  await assert.rejects(runScore({ checkpoint: aeRun, data: 'noise:4', score: 'iwae' }), /reconstruction error/);
  await assert.rejects(runScore({ checkpoint: vaeRun, data: 'noise:4', score: 'nll' }), /unknown score 'nll'/);
  await assert.rejects(runScore({ checkpoint: vaeRun, data: 'noise:4', score: 'iwae', bn: 'train' }), /unknown BatchNorm mode/);
});

test('runEval writes results.json, results.md, histograms, ROC, component scatter and reconstructions', async () => {
  const start = liveTensors();
  const out = join(dir, 'eval');
  const r = await runEval({
    checkpoint: vaeRun, id: 'gaussian-noise:40', ood: ['noise:30', 'constant:20'], scores: ['iwae', 'components'], bn: ['eval', 'enc'],
    k: 3, batchSize: 10, bootstrap: 50, out, recon: 4,
  });
  // iwae: 1 row, components: 4 rows; x 2 BN modes x 2 OoD sets.
  assert.equal(r.rows.length, (1 + 4) * 2 * 2);
  for (const row of r.rows) {
    assert.ok(row.AUROC >= 0 && row.AUROC <= 1);
    assert.ok(row.ci && row.ci.AUROC[0] <= row.AUROC + 1e-12 && row.AUROC <= row.ci.AUROC[1] + 1e-12);
  }
  for (const f of ['results.json', 'results.md', 'scores.json', 'hist-iwae-eval.png', 'hist-iwae-enc.png', 'roc-components-enc.png',
    'components-eval.png', 'components-enc.png', 'recon-gaussian-noise_40.png', 'recon-constant_20.png']) {
    assert.ok(existsSync(join(out, f)), f);
  }
  const md = readFileSync(join(out, 'results.md'), 'utf8');
  assert.match(md, /one dataset each/);
  assert.match(md, /\| iwae +\| eval +\| noise:30 +\|/);
  const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(j.batching, 'per-dataset');
  assert.deepEqual(j.bn, ['eval', 'enc']);
  assert.equal(liveTensors(), start);
});
