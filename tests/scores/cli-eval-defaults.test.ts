// `oodgen eval` without --scores / --bn: the defaults follow the model (a flow has no ELBO and no BatchNorm, an AE
// only its reconstruction error), where they were the VAE's for every model and a Glow run failed without flags.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, liveTensors } from '../../src/engine/index.js';
import { createModel } from '../../src/models/factory.js';
import type { ModelConfig } from '../../src/models/types.js';
import { defaultBnModes, defaultEvalScores, runEval } from '../../src/cli/eval.js';
import { tempDir } from '../helpers/tmp.js';
import { writeRun } from '../benchmark/helpers.js';

const dir = tempDir('cli-eval-defaults');
after(() => rmSync(dir, { recursive: true, force: true }));

const VAE: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 4, width: 4, sigma2: 0.1 };
const AE: ModelConfig = { ...VAE, kind: 'ae' };
const GLOW: ModelConfig = { kind: 'glow', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 1, width: 8, flow: { levels: 2, steps: 1, width: 8, lu: true } };

test('defaults by model: VAE elbo,iwae,components x eval,enc; AE rec x eval,enc; Glow exact-nll x eval', () => {
  const start = liveTensors();
  for (const [cfg, scores, bn] of [
    [VAE, ['elbo', 'iwae', 'components'], ['eval', 'enc']],
    [AE, ['rec'], ['eval', 'enc']],
    [GLOW, ['exact-nll'], ['eval']],
  ] as const) {
    const m = createModel(cfg, { generator: Generator.cpu(1) });
    assert.deepEqual(defaultEvalScores(m), scores, cfg.kind);
    assert.deepEqual(defaultBnModes(m), bn, cfg.kind);
    m.dispose();
  }
  assert.equal(liveTensors(), start);
});

test('oodgen eval on a Glow run with neither --scores nor --bn scores its exact likelihood under eval and says so', async () => {
  const start = liveTensors();
  const run = writeRun(dir, 'glow', GLOW, 3);
  const log: string[] = [];
  const r = await runEval({ checkpoint: run, id: 'noise:8', ood: ['constant:8'], k: 2, batchSize: 8, bootstrap: 0, charts: false, recon: 0, out: join(dir, 'eval-glow'), log: (s) => log.push(s) });
  assert.deepEqual(r.rows.map((x) => [x.score, x.bn]), [['exact-nll', 'eval']]);
  assert.ok(log.some((l) => l.endsWith('--scores exact-nll, --bn eval (the defaults for a glow model)')), log.join('\n'));
  // The run's training status under the model line and in results.json (this folder has no state.json: unknown).
  assert.match(r.markdown, /\nTraining: training status unknown \(no status\.json or state\.json beside the weights\)\.\n/);
  writeFileSync(join(run, 'state.json'), JSON.stringify({ format: 'oodgen-state/1', step: 30, epoch: 3, done: true, stopReason: 'early-stopping' }));
  const r2 = await runEval({ checkpoint: run, id: 'noise:8', ood: ['constant:8'], k: 2, batchSize: 8, bootstrap: 0, charts: false, recon: 0, out: join(dir, 'eval-glow3') });
  assert.match(r2.markdown, /\nTraining: converged: early stopping ended it at epoch 3 \(step 30\)\.\n/);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'eval-glow3', 'results.json'), 'utf8')).training, { done: true, converged: true, text: 'converged: early stopping ended it at epoch 3 (step 30)' });
  // Given explicitly, the flags are used as they are (and a mode the flow lacks is still refused with the reason).
  await assert.rejects(runEval({ checkpoint: run, id: 'noise:8', ood: ['constant:8'], scores: ['exact-nll'], bn: ['eval', 'enc'], bootstrap: 0, charts: false, recon: 0, out: join(dir, 'eval-glow2') }), /needs a model with an encoder part.*use --bn eval/);
  assert.equal(liveTensors(), start);
});
