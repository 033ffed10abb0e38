// trainingStatus: what a model folder says about how far its training got, for every form the folder can take.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainingStatus } from '../../src/train/status.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('status');
after(() => rmSync(dir, { recursive: true, force: true }));

const folder = (name: string, files: Record<string, string>) => {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
  return d;
};
const state = (o: Record<string, unknown>) => JSON.stringify({ format: 'oodgen-state/1', step: 700, epoch: 7, ...o });

test('run folders (state.json): early-stopped, capped, training or stopped and resumable', () => {
  assert.deepEqual(trainingStatus(folder('es', { 'state.json': state({ done: true, stopReason: 'early-stopping' }) })),
    { done: true, converged: true, text: 'converged: early stopping ended it at epoch 7 (step 700)' });
  assert.deepEqual(trainingStatus(folder('cap', { 'state.json': state({ done: true, stopReason: 'max-steps' }) })),
    { done: true, converged: false, text: 'ended by max-steps at epoch 7, not by early stopping (step 700)' });
  assert.deepEqual(trainingStatus(folder('running', { 'state.json': state({ done: false, stopReason: null }) })),
    { done: false, converged: false, text: 'NOT CONVERGED: training not finished (state.json: done is false at step 700, epoch 7)' });
  assert.deepEqual(trainingStatus(folder('stopped', { 'state.json': state({ done: false, stopReason: 'interrupted (SIGINT)' }) })),
    { done: false, converged: false, text: 'NOT CONVERGED: training not finished (state.json: done is false at step 700, epoch 7; last stop: interrupted (SIGINT))' });
});

test('zoo folders (status.json) take precedence; no record at all is "unknown", not converged or not', () => {
  const zoo = (o: Record<string, unknown>) => JSON.stringify({ step: 12654, epoch: 18, bestStep: 9139, lastEpoch: { epoch: 18 }, ...o });
  // A zoo export that also kept a state.json: the export's record wins.
  assert.deepEqual(trainingStatus(folder('z-es', { 'status.json': zoo({ converged: true, done: true, stopReason: 'early-stopping' }), 'state.json': state({ done: false }) })),
    { done: true, converged: true, text: 'converged: early stopping ended it at epoch 18; best-validation weights of step 9,139' });
  // Written before `done` was recorded: converged implies done.
  assert.equal(trainingStatus(folder('z-old', { 'status.json': zoo({ converged: true, stopReason: 'early-stopping' }) })).done, true);
  assert.deepEqual(trainingStatus(folder('z-mid', { 'status.json': zoo({ converged: false, done: false, stopReason: 'still training (exported mid-run)' }) })),
    { done: false, converged: false, text: 'NOT CONVERGED: exported while still training, at epoch 18 (step 12,654); best-validation weights of step 9,139' });
  assert.deepEqual(trainingStatus(folder('none', {})), { done: true, converged: null, text: 'training status unknown (no status.json or state.json beside the weights)' });
  assert.throws(() => trainingStatus(folder('torn', { 'state.json': '{"step": 1' })), /torn\/state\.json: not readable JSON/);
});
