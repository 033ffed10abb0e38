// `oodgen train --restart-from`: a run continued from another folder's weights after its optimizer state was lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { liveTensors } from '../../src/engine/index.js';
import type { ImageSet } from '../../src/data/types.js';
import { train, type TrainOptions } from '../../src/train/trainer.js';
import { readRunConfig, readRunState } from '../../src/train/run.js';
import { loadTensors } from '../../src/io/checkpoint.js';
import { parseTrainOptions } from '../../src/cli/train-options.js';
import { tempDir } from '../helpers/tmp.js';

/** 40 deterministic 8-bit images in 4 brightness groups. */
function tinySet(n = 40): ImageSet {
  const images = new Float32Array(n * 32 * 32);
  let q = 11;
  for (let i = 0; i < images.length; i++) {
    q = (q * 1103515245 + 12345) % 2147483648;
    images[i] = Math.floor((Math.floor(i / 1024) % 4) * 50 + (q / 2147483648) * 60) / 255;
  }
  return { images, shape: [n, 1, 32, 32], name: 'tiny:train', source: 'test' };
}

const zooExport = new URL('../../scripts/zoo-export.mjs', import.meta.url).pathname;

const readLog = (dir: string): Record<string, unknown>[] =>
  readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

// 36 training images, batch 6: 6 steps per epoch; 4 validation images.
const base = (out: string, set: ImageSet): TrainOptions => ({
  out, model: { kind: 'vae', decoder: 'categorical', channels: 1, imageSize: 32, zDim: 4, width: 8 }, trainSet: set,
  batchSize: 6, valFraction: 0.1, valLimit: 4, progress: 'none', patience: null, grids: false, seed: 5, command: 'oodgen train (test source)',
});

test('restart from weights only: from the best weights\' epoch with the source\'s config and log, Adam reset, validation measured again', async (t) => {
  const dir = tempDir('restart', t);
  const set = tinySet();
  const start = liveTensors();
  const run = join(dir, 'run'), a = join(dir, 'a'), b = join(dir, 'b');
  await train({ ...base(run, set), epochs: 4 });
  const sa = readRunState(run);
  // Weights only: the run's best weights, config and log, no state.json.
  mkdirSync(a);
  for (const f of ['config.json', 'best.safetensors', 'log.jsonl']) copyFileSync(join(run, f), join(a, f));
  assert.ok(sa.bestStep !== null && sa.bestStep % 6 === 0);
  const bestEpoch = sa.bestStep! / 6;
  const srcEpochLine = readLog(a).find((l) => l.event === 'epoch' && l.step === sa.bestStep)!;

  const r = await train({ out: b, restartFrom: a, trainSet: set, epochs: 6, progress: 'none', grids: false, command: 'oodgen train --restart-from a' });
  assert.equal(r.epoch, 6);
  assert.equal(r.step, 36);
  const cfg = readRunConfig(b), ca = readRunConfig(a);
  assert.deepEqual(cfg.model, ca.model);
  assert.deepEqual({ ...cfg.data, preprocessing: null }, { ...ca.data, preprocessing: null });
  assert.equal(cfg.seed, ca.seed);
  assert.equal(cfg.training.batchSize, 6);
  assert.equal(cfg.training.epochs, 6, 'a stop condition given to the restart replaces the source\'s');
  assert.equal(cfg.command, 'oodgen train --restart-from a');
  assert.equal(cfg.restartedFrom?.step, sa.bestStep);
  assert.equal(cfg.restartedFrom?.epoch, bestEpoch);
  assert.equal(cfg.restartedFrom?.command, 'oodgen train (test source)');
  assert.equal(cfg.restartedFrom?.weights, join(a, 'best.safetensors'));
  assert.match(cfg.restartedFrom!.sha256, /^[0-9a-f]{64}$/);

  // The log: the source's lines up to the weights' step, the restart event, then the new run's own steps.
  const log = readLog(b);
  const i = log.findIndex((l) => l.event === 'restart');
  assert.deepEqual(log.slice(0, i), readLog(a).filter((l) => (l.step as number) <= sa.bestStep!));
  const ev = log[i]!;
  assert.equal(ev.step, sa.bestStep);
  // Same weights, same validation images and seed: the validation ELBO measured again equals the source's record.
  assert.ok(Math.abs((ev.valElbo as number) - (srcEpochLine.valElbo as number)) < 1e-3, `${ev.valElbo} vs ${srcEpochLine.valElbo}`);
  assert.equal(ev.recordedValElbo, srcEpochLine.valElbo);
  assert.equal(ev.sourceCommand, 'oodgen train (test source)');
  assert.ok(log.slice(i + 1).every((l) => (l.step as number) > sa.bestStep!));
  assert.deepEqual(log.filter((l) => l.event === 'epoch').map((l) => l.epoch), [...Array(6).keys()].map((k) => k + 1));

  // Adam starts again: the new run's optimizer has taken only the steps since the restart.
  const opt = loadTensors(join(b, 'optimizer.safetensors'));
  for (const x of opt.tensors.values()) x.dispose();
  const meta = JSON.parse(opt.metadata.optimizers!) as Record<string, { step: number }>;
  assert.deepEqual(Object.values(meta).map((m) => m.step), Object.values(meta).map(() => 36 - sa.bestStep!));

  // Early stopping restarts from the loaded weights' validation ELBO; the wall time carries on from the source's.
  const sb = readRunState(b);
  assert.ok(sb.bestVal! >= (ev.valElbo as number));
  assert.ok(sb.elapsedMs >= (srcEpochLine.elapsedS as number) * 1000);
  assert.equal(liveTensors(), start, 'restarting frees every tensor it made');
});

test('restart: from a zoo export of best weights only (model.safetensors + status.json), and the errors', async (t) => {
  const dir = tempDir('restart', t);
  const set = tinySet();
  const a = join(dir, 'a'), zoo = join(dir, 'zoo');
  await train({ ...base(a, set), epochs: 2 });
  mkdirSync(zoo);
  copyFileSync(join(a, 'best.safetensors'), join(zoo, 'model.safetensors'));
  copyFileSync(join(a, 'config.json'), join(zoo, 'config.json'));
  writeFileSync(join(zoo, 'status.json'), '{"done": false}\n');
  const r = await train({ out: join(dir, 'z'), restartFrom: zoo, trainSet: set, epochs: 10, maxSteps: 20, progress: 'none', grids: false });
  assert.equal(r.step, 20);
  assert.equal(readRunConfig(join(dir, 'z')).restartedFrom?.weights, join(zoo, 'model.safetensors'));
  // Until an epoch beats them, the best weights are the source's file byte for byte (content hashes stay).
  await train({ out: join(dir, 'z1'), restartFrom: zoo, trainSet: set, epochs: 10, maxSteps: 13, progress: 'none', grids: false });
  assert.deepEqual(readFileSync(join(dir, 'z1', 'best.safetensors')), readFileSync(join(zoo, 'model.safetensors')));

  // Into a folder that holds a run: refused, the run untouched.
  await assert.rejects(train({ out: a, restartFrom: zoo, trainSet: set, epochs: 3, progress: 'none' }), /already holds a run.*choose another --out/);
  await assert.rejects(train({ out: join(dir, 'x'), restartFrom: zoo, resume: true, trainSet: set, progress: 'none' }), /exclude each other/);
  await assert.rejects(train({ out: join(dir, 'x'), restartFrom: join(dir, 'nope'), trainSet: set, progress: 'none' }), /nope does not exist/);
  // Weights only, from inside an epoch (no validation, 4 steps of 6-step epochs): where in it is unknown.
  const c = join(dir, 'c'), cw = join(dir, 'cw');
  await train({ ...base(c, set), valFraction: 0, maxSteps: 4 });
  mkdirSync(cw);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(c, f), join(cw, f));
  await assert.rejects(train({ out: join(dir, 'y'), restartFrom: cw, trainSet: set, maxSteps: 8, progress: 'none' }), /model\.safetensors: saved at step 4, inside epoch 0 .*no training state says where/);
  // A state from another checkpoint than the weights: refused.
  const st = JSON.parse(readFileSync(join(c, 'state.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(c, 'state.json'), JSON.stringify({ ...st, step: 3, batchInEpoch: 3 }));
  await assert.rejects(train({ out: join(dir, 'y'), restartFrom: c, trainSet: set, maxSteps: 8, progress: 'none' }), /saved at step 4, but the training state of .* is at step 3/);
  // A run that early stopping ended: nothing to continue.
  writeFileSync(join(c, 'state.json'), JSON.stringify({ ...st, done: true, stopReason: 'early-stopping' }));
  await assert.rejects(train({ out: join(dir, 'y'), restartFrom: c, trainSet: set, maxSteps: 8, progress: 'none' }), /early stopping ended this run/);
  // The CLI: the source's config is the run's, so model and data options are refused.
  await assert.rejects(parseTrainOptions({ out: 'o', restartFrom: zoo, model: 'vae', batchSize: '32' }), /--restart-from continues the run of .* drop --model, --batch-size/);
  await assert.rejects(parseTrainOptions({ out: 'o', restartFrom: zoo, resume: true }), /exclude each other/);
  const o = await parseTrainOptions({ out: 'o', restartFrom: zoo, epochs: '9' });
  assert.equal(o.restartFrom, zoo);
  assert.equal(o.epochs, 9);
});

test('restart with the run\'s state: from its latest checkpoint, mid-epoch, with its early-stopping state and best weights; through a zoo export', async (t) => {
  const dir = tempDir('restart', t);
  const set = tinySet();
  const start = liveTensors();
  // 15 steps of 6-step epochs: stopped in epoch 2 after 3 of its batches, patience 3 counting.
  const a = join(dir, 'a');
  await train({ ...base(a, set), epochs: 20, maxSteps: 15, patience: 3 });
  const sa = readRunState(a);
  assert.deepEqual([sa.step, sa.epoch, sa.batchInEpoch], [15, 2, 3]);
  // The run stopped mid-run with its optimizer state lost; then it is exported to a zoo as still training.
  rmSync(join(a, 'optimizer.safetensors'));
  writeFileSync(join(a, 'state.json'), JSON.stringify({ ...sa, done: false, stopReason: 'interrupted (SIGINT)' }));
  const zoo = join(dir, 'zoo');
  const ex = spawnSync(process.execPath, [zooExport, a, 'm', 'oodgen train (test source)', '--zoo', zoo], { encoding: 'utf8' });
  assert.equal(ex.status, 0, ex.stderr);
  const zm = join(zoo, 'm');
  const status = JSON.parse(readFileSync(join(zm, 'status.json'), 'utf8')) as { resume: Record<string, unknown> };
  assert.deepEqual(status.resume, { step: 15, epoch: 2, batchInEpoch: 3, bestVal: sa.bestVal, bestStep: sa.bestStep, patienceRef: sa.patienceRef, epochsSinceBest: sa.epochsSinceBest, elapsedMs: sa.elapsedMs, ranks: 1 });
  assert.deepEqual(readFileSync(join(zm, 'last.safetensors')), readFileSync(join(a, 'model.safetensors')));
  assert.deepEqual(readFileSync(join(zm, 'model.safetensors')), readFileSync(join(a, 'best.safetensors')));
  // Weights and state from different checkpoints (read while one was being written): refused, the export left as it was.
  const before = readFileSync(join(zm, 'status.json'), 'utf8');
  writeFileSync(join(a, 'state.json'), JSON.stringify({ ...sa, step: 14, done: false }));
  const bad = spawnSync(process.execPath, [zooExport, a, 'm', 'oodgen train (test source)', '--zoo', zoo], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /model\.safetensors is at step 15, state\.json at 14: a checkpoint was being written; export again/);
  assert.equal(readFileSync(join(zm, 'status.json'), 'utf8'), before);
  writeFileSync(join(a, 'state.json'), JSON.stringify({ ...sa, done: false, stopReason: 'interrupted (SIGINT)' }));

  // A source whose steps were made by other than one rank (its steps count global batches of ranks x batch): refused
  // in one process, from the run folder (state.json rng.worldSize) and from the zoo (status.json resume.ranks).
  writeFileSync(join(a, 'state.json'), JSON.stringify({ ...sa, done: false, stopReason: 'interrupted (SIGINT)', rng: { ...sa.rng, worldSize: '2' } }));
  await assert.rejects(train({ out: join(dir, 'r2'), restartFrom: a, trainSet: set, maxSteps: 16, progress: 'none', grids: false }),
    (e: Error) => e.message === `${a}: trained with 2 rank(s), each step a global batch of 2 x 6 images; restart it with --nproc 2 (got 1)`);
  writeFileSync(join(zm, 'status.json'), JSON.stringify({ ...status, resume: { ...status.resume, ranks: 2 } }));
  await assert.rejects(train({ out: join(dir, 'z2'), restartFrom: zm, trainSet: set, maxSteps: 16, progress: 'none', grids: false }), /trained with 2 rank\(s\).*restart it with --nproc 2 \(got 1\)/);
  // An export from before ranks were recorded: the log's epoch lines still tell (12 steps per epoch there, 6 here).
  const logBefore = readFileSync(join(zm, 'log.jsonl'), 'utf8');
  writeFileSync(join(zm, 'status.json'), JSON.stringify({ ...status, resume: { ...status.resume, ranks: undefined } }));
  writeFileSync(join(zm, 'log.jsonl'), logBefore.replace(/"step":12,"epoch":2,"event":"epoch"/, '"step":24,"epoch":2,"event":"epoch"').replace(/"step":6,"epoch":1,"event":"epoch"/, '"step":12,"epoch":1,"event":"epoch"'));
  assert.notEqual(readFileSync(join(zm, 'log.jsonl'), 'utf8'), logBefore);
  await assert.rejects(train({ out: join(dir, 'z3'), restartFrom: zm, trainSet: set, maxSteps: 16, progress: 'none', grids: false }),
    (e: Error) => e.message.startsWith(`${join(zm, 'log.jsonl')}: epoch 1 ended at step 12 there, but this run has 6 steps per epoch (1 rank(s) x batch 6)`));
  for (const out of ['r2', 'z2', 'z3']) assert.equal(existsSync(join(dir, out, 'state.json')), false, `${out}: nothing written by a refused restart`);
  writeFileSync(join(zm, 'log.jsonl'), logBefore);
  writeFileSync(join(zm, 'status.json'), JSON.stringify(status));
  writeFileSync(join(a, 'state.json'), JSON.stringify({ ...sa, done: false, stopReason: 'interrupted (SIGINT)' }));

  for (const [name, from, weights] of [['b', a, join(a, 'model.safetensors')], ['z', zm, join(zm, 'last.safetensors')]] as const) {
    const out = join(dir, name);
    // One step: the state right after the restart.
    await train({ out, restartFrom: from, trainSet: set, maxSteps: 16, progress: 'none', grids: false });
    const sb = readRunState(out);
    assert.deepEqual([sb.step, sb.epoch, sb.batchInEpoch], [16, 2, 4], name);
    assert.deepEqual([sb.bestVal, sb.bestStep, sb.epochsSinceBest, sb.patienceRef], [sa.bestVal, sa.bestStep, sa.epochsSinceBest, sa.patienceRef], name);
    assert.ok(sb.elapsedMs >= sa.elapsedMs);
    assert.equal(readRunConfig(out).restartedFrom?.weights, weights);
    // The best weights so far are the source's, byte for byte (no epoch ended since).
    assert.deepEqual(readFileSync(join(out, 'best.safetensors')), readFileSync(join(a, 'best.safetensors')), name);
    const ev = readLog(out).find((l) => l.event === 'restart')!;
    assert.deepEqual([ev.step, ev.epoch, ev.batchInEpoch, ev.valElbo], [15, 2, 3, undefined], 'no validation pass: the state has the early-stopping values');
  }
  // Exported again once finished: no restart point is kept.
  writeFileSync(join(a, 'state.json'), JSON.stringify({ ...sa, done: true, stopReason: 'max-steps' }));
  assert.equal(spawnSync(process.execPath, [zooExport, a, 'm', 'oodgen train (test source)', '--zoo', zoo]).status, 0);
  assert.equal(existsSync(join(zm, 'last.safetensors')), false);
  assert.equal((JSON.parse(readFileSync(join(zm, 'status.json'), 'utf8')) as { resume?: unknown }).resume, undefined);
  // Continued to its epoch's end and beyond: the first epoch line comes after the 3 remaining batches of epoch 2.
  await train({ out: join(dir, 'b'), resume: true, trainSet: set, maxSteps: 24, progress: 'none', grids: false });
  assert.deepEqual(readLog(join(dir, 'b')).filter((l) => l.event === 'epoch' && (l.step as number) > 15).map((l) => [l.step, l.epoch]), [[18, 3], [24, 4]]);
  assert.equal(liveTensors(), start, 'restarting frees every tensor it made');
});
