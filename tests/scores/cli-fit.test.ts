// `oodgen fit` and `oodgen eval` with the field detectors on tiny run folders: fitting uses the run's own ID
// validation split, the state lands in RUN/detectors/NAME.* and eval reuses it (or fits when it is missing).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, liveTensors } from '../../src/engine/index.js';
import { createModel } from '../../src/models/factory.js';
import { saveStateDict } from '../../src/io/checkpoint.js';
import type { ModelConfig } from '../../src/models/types.js';
import { runEval } from '../../src/cli/eval.js';
import { buildProgram } from '../../src/cli/main.js';
import { OodgenError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('cli-fit');
after(() => rmSync(dir, { recursive: true, force: true }));

const VAE: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4, sigma2: 0.1 };

function makeRun(name: string, seed: number): string {
  const runDir = join(dir, name);
  mkdirSync(runDir, { recursive: true });
  const m = createModel(VAE, { generator: Generator.cpu(seed) });
  saveStateDict(join(runDir, 'model.safetensors'), m);
  m.dispose();
  writeFileSync(join(runDir, 'config.json'), JSON.stringify({
    format: 'oodgen-run/1', model: VAE,
    data: { train: 'noise:200', valFraction: 0.2, valLimit: 100, imageSize: 28, channels: 1, dequantize: true, preprocessing: null, trainCount: 160, valCount: 40 },
    training: { batchSize: 8, lr: 1e-3, betas: [0.9, 0.999], epochs: 1, maxSteps: null, timeBudgetMin: null, checkpointEvery: 100, logEvery: 10, patience: null, sintro: null },
    seed: seed, device: 'cpu', engine: { torch: '1.13.0', oodgen: '0.1.0' }, createdAt: new Date().toISOString(),
  }));
  return runDir;
}

const run = makeRun('a', 1), bg = makeRun('bg', 2), other = makeRun('b', 3);

test('oodgen fit saves the state from the ID validation split; eval reuses it and fits what is missing', async () => {
  const start = liveTensors();
  const out: string[] = [];
  const program = await buildProgram();
  await program.parseAsync(['node', 'oodgen', 'fit', '--checkpoint', run, '--detector', 'dose', '--k', '3', '--batch-size', '20'], { from: 'node' });
  const state = JSON.parse(readFileSync(join(run, 'detectors', 'dose.json'), 'utf8'));
  assert.equal(state.meta.n, 40, 'the 20% validation split of 200 images');
  assert.match(state.meta.data, /noise:200 validation split/);
  assert.ok(existsSync(join(run, 'detectors', 'dose.safetensors')));
  const r = await runEval({
    checkpoint: run, id: 'noise:30', ood: ['constant:30'], scores: ['dose', 'lpath', 'likelihood-ratio', 'waic'], bn: ['eval'], k: 3,
    batchSize: 15, bootstrap: 0, charts: false, recon: 0, out: join(dir, 'eval'), background: bg, ensemble: [other], secondStage: 'mahalanobis',
    log: (s) => out.push(s),
  });
  assert.ok(out.some((s) => /dose: loaded from/.test(s)), out.join('\n'));
  assert.ok(out.some((s) => /lpath: fitted on noise:200 validation split .*40 images/.test(s)), out.join('\n'));
  assert.ok(existsSync(join(run, 'detectors', 'lpath.json')));
  assert.deepEqual([...new Set(r.rows.map((x) => x.score))].sort(), ['dose', 'likelihood-ratio', 'lpath', 'waic']);
  // Constant images are far from noise in the statistics the fitted detectors model (the untrained models'
  // likelihood ratio and WAIC carry no such guarantee).
  for (const row of r.rows.filter((x) => x.score === 'dose' || x.score === 'lpath')) assert.ok(row.AUROC > 0.9, `${row.score}: AUROC ${row.AUROC}`);
  assert.equal(liveTensors(), start);
});

test('multi-model detectors say which run they are missing', async () => {
  const base = { checkpoint: run, id: 'noise:10', ood: ['constant:10'], bn: ['eval'], k: 2, bootstrap: 0, charts: false, recon: 0, out: join(dir, 'e2') };
  await assert.rejects(runEval({ ...base, scores: ['waic'] }), (e: Error) => e instanceof OodgenError && /--ensemble/.test(e.message));
  await assert.rejects(runEval({ ...base, scores: ['likelihood-ratio'] }), /--background RUN/);
  await assert.rejects(runEval({ ...base, scores: ['likelihood-ratio'], background: join(dir, 'nope') }), /nope/);
  const program = await buildProgram();
  await assert.rejects(program.parseAsync(['node', 'oodgen', 'fit', '--checkpoint', run, '--detector', 'iwae'], { from: 'node' }), /needs no fitting/);
});
