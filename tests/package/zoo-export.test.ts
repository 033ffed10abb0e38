// scripts/zoo-export.mjs and the benchmark agree on what a zoo model is: a run exported mid-run (its state not done,
// whatever its last stop was) is recorded as still training and refused by the benchmark unless --unfinished; one
// that early stopping ended is recorded as converged and taken, with its best-validation weights.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { resolveRun } from '../../src/benchmark/models.js';
import { TINY, writeRun } from '../benchmark/helpers.js';
import { tempDir } from '../helpers/tmp.js';

const script = new URL('../../scripts/zoo-export.mjs', import.meta.url).pathname;
const dir = tempDir('zoo-export');
after(() => rmSync(dir, { recursive: true, force: true }));

test('zoo-export: a run exported mid-run is "still training" (refused without --unfinished); an early-stopped one is converged, best weights', () => {
  const run = writeRun(join(dir, 'runs'), 'r', TINY, 21);
  const best = writeRun(join(dir, 'other'), 'b', TINY, 22);
  copyFileSync(join(best, 'model.safetensors'), join(run, 'best.safetensors'));
  writeFileSync(join(run, 'log.jsonl'), JSON.stringify({ step: 30, epoch: 3, event: 'epoch', valElbo: -10 }) + '\n');
  const zoo = join(dir, 'zoo');
  const exportAs = (state: Record<string, unknown>) => {
    writeFileSync(join(run, 'state.json'), JSON.stringify({ format: 'oodgen-state/1', step: 40, epoch: 3, bestStep: 30, bestVal: -10, ...state }));
    const r = spawnSync(process.execPath, [script, run, 'm', 'oodgen train --model vae', '--zoo', zoo], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(readFileSync(join(zoo, 'm', 'status.json'), 'utf8')) as Record<string, unknown>;
  };
  // Interrupted, then resumed and training now: the state's last stop reason is stale.
  const mid = exportAs({ done: false, stopReason: 'interrupted (SIGINT)' });
  assert.deepEqual([mid.done, mid.converged, mid.stopReason], [false, false, 'still training (exported mid-run)']);
  assert.throws(() => resolveRun('m', zoo), /exported before its training ended .*NOT CONVERGED: exported while still training, at epoch 3 \(step 40\); best-validation weights of step 30\): pass --unfinished/);
  assert.equal(resolveRun('m', zoo, { unfinished: true }).training.converged, false);

  const done = exportAs({ done: true, stopReason: 'early-stopping' });
  assert.deepEqual([done.done, done.converged, done.stopReason], [true, true, 'early-stopping']);
  const r = resolveRun('m', zoo);
  assert.equal(r.training.text, 'converged: early stopping ended it at epoch 3; best-validation weights of step 30');
  assert.deepEqual(readFileSync(join(zoo, 'm', 'model.safetensors')), readFileSync(join(run, 'best.safetensors')));
  assert.equal(readFileSync(join(zoo, 'm', 'command.txt'), 'utf8'), 'oodgen train --model vae\n');
});

test('zoo-export: a run restarted from surviving weights lists each segment\'s command and its restarts; the status says so', () => {
  const run = writeRun(join(dir, 'runs'), 'rr', TINY, 23);
  const ev = (step: number, epoch: number, from: string, src: string) => ({ step, epoch, event: 'restart', from, weights: `${from}/model.safetensors`, sha256: 'ab'.repeat(32), sourceCommand: src });
  const lines = [
    { step: 10, epoch: 1, event: 'epoch', valElbo: -12 },
    ev(10, 1, 'zoo/m', 'oodgen train --model vae --out runs/m'),
    { step: 20, epoch: 2, event: 'epoch', valElbo: -11 },
    ev(20, 2, 'zoo/m', 'oodgen train --restart-from zoo/m --out runs/m'),
    { step: 30, epoch: 3, event: 'epoch', valElbo: -10 },
  ];
  writeFileSync(join(run, 'log.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join(''));
  writeFileSync(join(run, 'state.json'), JSON.stringify({ format: 'oodgen-state/1', step: 30, epoch: 3, bestStep: 30, bestVal: -10, done: true, stopReason: 'early-stopping' }));
  const zoo = join(dir, 'zoo-r');
  const r = spawnSync(process.execPath, [script, run, 'm', 'oodgen train --restart-from zoo/m --out runs/m2', '--zoo', zoo], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const sha = 'ab'.repeat(32);
  assert.equal(readFileSync(join(zoo, 'm', 'command.txt'), 'utf8'), [
    '# steps 1-10 (to epoch 1), a run folder since lost:', 'oodgen train --model vae --out runs/m',
    `# restarted at step 10 (epoch 1) from zoo/m/model.safetensors (sha256 ${sha}): Adam moments and the noise generator reset`,
    '# steps 11-20 (to epoch 2), a run folder since lost:', 'oodgen train --restart-from zoo/m --out runs/m',
    `# restarted at step 20 (epoch 2) from zoo/m/model.safetensors (sha256 ${sha}): Adam moments and the noise generator reset`,
    'oodgen train --restart-from zoo/m --out runs/m2', '',
  ].join('\n'));
  const status = JSON.parse(readFileSync(join(zoo, 'm', 'status.json'), 'utf8')) as { restarts: unknown[] };
  assert.deepEqual(status.restarts, [{ step: 10, epoch: 1, from: 'zoo/m', sha256: sha }, { step: 20, epoch: 2, from: 'zoo/m', sha256: sha }]);
  assert.equal(resolveRun('m', zoo).training.text,
    'converged: early stopping ended it at epoch 3; best-validation weights of step 30; restarted at epoch 1, 2 from its surviving weights (optimizer state lost, Adam reset)');
});

test('zoo-export: exporting again after a restart keeps the earlier segments\' commands as the earlier export wrote them (notes included)', () => {
  const run = writeRun(join(dir, 'runs'), 'rk', TINY, 24);
  const zoo = join(dir, 'zoo-k');
  // First export: a run restarted once, whose restart event predates sourceCommand (config.json names its source).
  const ev = (step: number, weights: string, sha: string, src?: string) =>
    ({ step, epoch: step / 10, event: 'restart', from: 'zoo/k', weights, sha256: sha, ...(src ? { sourceCommand: src } : {}) });
  const writeLog = (lines: object[]) => writeFileSync(join(run, 'log.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join(''));
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Record<string, unknown>;
  const setSource = (cmd: string) => writeFileSync(join(run, 'config.json'), JSON.stringify({ ...config, restartedFrom: { command: cmd } }));
  writeLog([{ step: 10, epoch: 1, event: 'epoch', valElbo: -12 }, ev(10, 'zoo/k/model.safetensors', 'cd'.repeat(32)), { step: 20, epoch: 2, event: 'epoch', valElbo: -11 }]);
  setSource('oodgen train --model vae --out runs/k');
  writeFileSync(join(run, 'state.json'), JSON.stringify({ format: 'oodgen-state/1', step: 20, epoch: 2, bestStep: 20, bestVal: -11, done: true, stopReason: 'early-stopping' }));
  const exp = (cmd: string) => spawnSync(process.execPath, [script, run, 'k', cmd, '--zoo', zoo], { encoding: 'utf8' });
  assert.equal(exp('oodgen train --restart-from zoo/k --out runs/k').status, 0);
  // A hand-added note on the current segment's line, as the zoo's command.txt files carry.
  const file = join(zoo, 'k', 'command.txt');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/--out runs\/k\n$/, '--out runs/k   # interrupted at step 15\n'));
  // The run is restarted again from that export's weights; the new log's first restart event still has no source
  // command, and config.json now names only the latest restart's source.
  const sha2 = createHash('sha256').update(readFileSync(join(zoo, 'k', 'model.safetensors'))).digest('hex');
  writeLog([{ step: 10, epoch: 1, event: 'epoch', valElbo: -12 }, ev(10, 'zoo/k/model.safetensors', 'cd'.repeat(32)),
    { step: 20, epoch: 2, event: 'epoch', valElbo: -11 }, ev(20, 'zoo/k/model.safetensors', sha2, 'oodgen train --restart-from zoo/k --out runs/k'),
    { step: 30, epoch: 3, event: 'epoch', valElbo: -10 }]);
  setSource('oodgen train --restart-from zoo/k --out runs/k');
  writeFileSync(join(run, 'state.json'), JSON.stringify({ format: 'oodgen-state/1', step: 30, epoch: 3, bestStep: 30, bestVal: -10, done: true, stopReason: 'early-stopping' }));
  const r = exp('oodgen train --restart-from zoo/k --out runs/k2');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith('#')), [
    'oodgen train --model vae --out runs/k', 'oodgen train --restart-from zoo/k --out runs/k   # interrupted at step 15', 'oodgen train --restart-from zoo/k --out runs/k2', '']);
  // Without the earlier export, the first segment's command is not known: said so, not made up.
  rmSync(join(zoo, 'k'), { recursive: true });
  assert.equal(exp('oodgen train --restart-from zoo/k --out runs/k2').status, 0);
  assert.deepEqual(readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith('#')), [
    '(command not recorded)', 'oodgen train --restart-from zoo/k --out runs/k', 'oodgen train --restart-from zoo/k --out runs/k2', '']);
});

test('zoo-export: a run whose best weights are newer than its last checkpoint is refused, the zoo folder left as it was', () => {
  const run = writeRun(join(dir, 'runs'), 'rb', TINY, 25);
  // A safetensors header with no tensors records the step the way oodgen train's best.safetensors does.
  const header = Buffer.from(JSON.stringify({ __metadata__: { format: 'pt', step: '35' } }));
  const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(join(run, 'best.safetensors'), Buffer.concat([len, header]));
  writeFileSync(join(run, 'log.jsonl'), JSON.stringify({ step: 35, epoch: 3, event: 'epoch', valElbo: -9, best: true }) + '\n');
  writeFileSync(join(run, 'state.json'), JSON.stringify({ format: 'oodgen-state/1', step: 30, epoch: 2, bestStep: 20, bestVal: -10, done: false }));
  const zoo = join(dir, 'zoo-b');
  const r = spawnSync(process.execPath, [script, run, 'm', 'oodgen train --model vae', '--zoo', zoo], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /best\.safetensors is the best of step 35, state\.json's \(at step 30\) of step 20: a new best since the last checkpoint; export after the next checkpoint/);
  assert.deepEqual(readdirSync(join(zoo, 'm')), []);
});
