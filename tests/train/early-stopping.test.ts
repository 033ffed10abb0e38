// Early stopping with a minimum improvement (--min-delta): the rule on a hand-made sequence, an old run folder's
// state (no patienceRef), and a real training run that stops because its gains are too small to count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { liveTensors } from '../../src/engine/index.js';
import type { ModelConfig } from '../../src/models/types.js';
import { parseTrainOptions } from '../../src/cli/train-options.js';
import { earlyStoppingStep, type EarlyStoppingState } from '../../src/train/early-stopping.js';
import { train } from '../../src/train/trainer.js';
import { readRunState } from '../../src/train/run.js';
import { tempDir } from '../helpers/tmp.js';
import { tinySet } from './tiny-set.js';

const dir = tempDir('early-stop');
test.after(() => rmSync(dir, { recursive: true, force: true }));

function run(vals: number[], patience: number | null, minDelta: number, st: EarlyStoppingState = { bestVal: null, epochsSinceBest: 0 }) {
  return vals.map((v) => ({ ...earlyStoppingStep(st, v, patience, minDelta), since: st.epochsSinceBest, best: st.bestVal, ref: st.patienceRef }));
}

test('minDelta 0 is the plain rule: any improvement resets the patience', () => {
  const r = run([-10, -9.99, -9.98, -9.98, -9.985], 2, 0);
  assert.deepEqual(r.map((x) => x.since), [0, 0, 0, 1, 2]);
  assert.deepEqual(r.map((x) => x.stop), [false, false, false, false, true]);
  assert.deepEqual(r.map((x) => x.improved), [true, true, true, false, false]);
});

test('minDelta: small gains keep best.safetensors current but do not reset the patience', () => {
  // -10 sets the reference; -9.95 and -9.91 improve by less than 0.1 over it; -9.85 beats it by 0.15 and resets.
  const r = run([-10, -9.95, -9.91, -9.85, -9.80, -9.79, -9.78], 3, 0.1);
  assert.deepEqual(r.map((x) => x.improved), [true, true, true, true, true, true, true]);
  assert.deepEqual(r.map((x) => x.significant), [true, false, false, true, false, false, false]);
  assert.deepEqual(r.map((x) => x.since), [0, 1, 2, 0, 1, 2, 3]);
  assert.deepEqual(r.map((x) => x.stop), [false, false, false, false, false, false, true]);
  assert.equal(r[6].best, -9.78);
  assert.equal(r[6].ref, -9.85);
  // Exactly minDelta is not "more than minDelta".
  assert.equal(run([-1, -0.5], 1, 0.5)[1].significant, false);
  // No patience: never stops, however flat.
  assert.ok(run([-1, -1, -1, -1], null, 0.1).every((x) => !x.stop));
  assert.throws(() => earlyStoppingStep({ bestVal: null, epochsSinceBest: 0 }, -1, 1, -0.1), /minDelta must be >= 0/);
});

test('a run folder from before --min-delta (no patienceRef) continues from its best value and count', () => {
  const st: EarlyStoppingState = { bestVal: -942.887, epochsSinceBest: 1 };
  const r = run([-942.85, -942.7], 3, 0.1, st);
  assert.deepEqual(r.map((x) => x.since), [2, 0]);
  assert.equal(st.patienceRef, -942.7);
  assert.equal(st.bestVal, -942.7);
});

test('--min-delta is validated and may be changed on --resume', async () => {
  await assert.rejects(parseTrainOptions({ model: 'vae', data: 'fashion-mnist:train', out: join(dir, 'x'), epochs: '1', minDelta: '-1' }), /--min-delta must be >= 0/);
  const o = await parseTrainOptions({ out: join(dir, 'x'), resume: true, minDelta: '0.5' });
  assert.equal(o.minDelta, 0.5);
});

test('training stops once no epoch beats the reference by more than --min-delta, and the config records it', async () => {
  const start = liveTensors();
  const out = join(dir, 'md');
  const cfg: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 2, width: 4 };
  // 1e6 nats: only the first epoch counts, so patience 2 stops after epoch 3 of 20.
  const r = await train({ out, model: cfg, trainSet: tinySet(), batchSize: 8, valFraction: 0.25, epochs: 20, patience: 2, minDelta: 1e6, progress: 'none', grids: false });
  assert.equal(r.stopReason, 'early-stopping');
  assert.equal(r.epoch, 3);
  assert.equal(r.config.training.minDelta, 1e6);
  const epochs = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'epoch');
  assert.deepEqual(epochs.map((e) => e.significant), [true, false, false]);
  assert.deepEqual(epochs.map((e) => e.epochsSinceBest), [0, 1, 2]);
  const st = readRunState(out);
  assert.equal(st.patienceRef, epochs[0].valElbo);
  assert.equal(st.bestVal, Math.max(...epochs.map((e) => e.valElbo)));
  assert.equal(liveTensors(), start);
});
