import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { liveTensors, tidy, noGrad, Generator } from '../../src/engine/index.js';
import { BatchNorm2d } from '../../src/nn/index.js';
import { OodgenError } from '../../src/errors.js';
import type { ImageSet } from '../../src/data/types.js';
import { train, type TrainOptions } from '../../src/train/trainer.js';
import { loadRun, readRunState } from '../../src/train/run.js';
import { loadTensors } from '../../src/io/checkpoint.js';
import { adaptDecoderBatchNorm, restoreDecoderBn, snapshotDecoderBn } from '../../src/train/bn-adapt.js';
import { createModel } from '../../src/models/factory.js';
import { bitsPerDim, evaluateElbo } from '../../src/train/evaluate.js';

import { PY, ROOT, torchSkip } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

/** 40 tiny 8-bit images (values k/255), deterministic. */
function tinySet(n = 40, c = 1, s = 32): ImageSet {
  const images = new Float32Array(n * c * s * s);
  let q = 7;
  for (let i = 0; i < images.length; i++) {
    q = (q * 1103515245 + 12345) % 2147483648;
    const base = Math.floor(i / (c * s * s)) % 4; // 4 "classes" of brightness
    images[i] = Math.min(255, Math.floor(base * 50 + (q / 2147483648) * 60)) / 255;
  }
  return { images, shape: [n, c, s, s], name: 'tiny:train', source: 'test' };
}

const tmp = (): string => tempDir('train');

function maxDiff(a: string, b: string): number {
  const A = loadTensors(a).tensors, B = loadTensors(b).tensors;
  assert.deepEqual([...A.keys()].sort(), [...B.keys()].sort());
  let md = 0;
  for (const [k, t] of A) {
    const x = t.toFloat32Array(), y = B.get(k)!.toFloat32Array();
    for (let i = 0; i < x.length; i++) md = Math.max(md, Math.abs(x[i] - y[i]));
  }
  for (const t of [...A.values(), ...B.values()]) t.dispose();
  return md;
}

for (const kind of ['vae', 'sintro'] as const) {
  test(`${kind}: a 20 + 20 step run resumed from its checkpoint ends with the same weights as a 40-step run`, async () => {
    const dir = tmp();
    const set = tinySet();
    const start = liveTensors();
    try {
      const base: TrainOptions = {
        out: '', model: { kind, decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 4, width: 8 }, trainSet: set,
        batchSize: 8, valFraction: 0.2, valLimit: 8, progress: 'none', checkpointEvery: 7, patience: null, grids: false, seed: 3,
      };
      const a = await train({ ...base, out: join(dir, 'a'), maxSteps: 40 });
      assert.equal(a.step, 40);
      await train({ ...base, out: join(dir, 'b'), maxSteps: 20 });
      assert.equal(readRunState(join(dir, 'b')).step, 20);
      const b = await train({ out: join(dir, 'b'), resume: true, trainSet: set, maxSteps: 40, progress: 'none', grids: false });
      assert.equal(b.step, 40);
      assert.equal(b.epoch, a.epoch);
      assert.ok(maxDiff(join(dir, 'a', 'model.safetensors'), join(dir, 'b', 'model.safetensors')) < 1e-6);
      assert.ok(maxDiff(join(dir, 'a', 'optimizer.safetensors'), join(dir, 'b', 'optimizer.safetensors')) < 1e-6);
      assert.deepEqual(readRunState(join(dir, 'a')).rng, readRunState(join(dir, 'b')).rng);
      // the log has per-step lines and per-epoch validation lines
      const log = readFileSync(join(dir, 'a', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(log.some((l) => l.event === 'epoch' && Number.isFinite(l.valElbo)));
      assert.ok(log.some((l) => l.step === 1 && Number.isFinite(l.loss) && l.lr > 0));
      assert.equal(liveTensors(), start, 'training frees every tensor it made');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a checkpoint at each epoch end: the state on disk right after an epoch line is that epoch\'s end, not an older checkpoint', async () => {
  const dir = tmp();
  try {
    const out = join(dir, 'run');
    // 40 images, 8 held out: 32 / 8 = 4 steps per epoch; checkpointEvery far beyond the run, so only the epoch end can write one.
    const ac = new AbortController();
    let seen: number[] | null = null;
    // The loop yields once per step (after that step's checkpoint) when given a signal: look at the disk there.
    const watch = (): void => {
      const log = existsSync(join(out, 'log.jsonl')) ? readFileSync(join(out, 'log.jsonl'), 'utf8') : '';
      if (log.includes('"event":"epoch"')) {
        const s = existsSync(join(out, 'state.json')) ? readRunState(out) : null;
        seen = s ? [s.step, s.epoch, s.batchInEpoch] : [];
        ac.abort();
      } else if (!ac.signal.aborted) setImmediate(watch);
    };
    setImmediate(watch);
    const r = await train({
      out, model: { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 4, width: 4 }, trainSet: tinySet(),
      batchSize: 8, valFraction: 0.2, valLimit: 8, progress: 'none', checkpointEvery: 1000, patience: null, grids: false, seed: 3,
      maxSteps: 12, signal: ac.signal,
    });
    assert.deepEqual(seen, [4, 1, 0], 'state.json (step, epoch, batchInEpoch) right after the first epoch line');
    assert.match(r.stopReason, /^interrupted/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a run folder: config, checkpoints, grids; loadRun gives the trained model', async (t) => {
  const dir = tmp();
  try {
    const out = join(dir, 'run');
    const r = await train({
      out, model: { kind: 'vae', decoder: 'categorical', channels: 1, imageSize: 28, zDim: 4, width: 8 }, trainSet: tinySet(24, 1, 28),
      batchSize: 8, valFraction: 0.25, epochs: 2, progress: 'none', bnAdaptSamples: 64, seed: 1,
    });
    assert.equal(r.stopReason, 'epochs');
    for (const f of ['config.json', 'model.safetensors', 'best.safetensors', 'optimizer.safetensors', 'state.json', 'log.jsonl', 'samples.png', 'reconstructions.png']) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const { model, config } = loadRun(out);
    assert.equal(config.model.decoder, 'categorical');
    assert.equal(config.data.dequantize, false);
    assert.equal(model.training, false);
    const best = loadRun(out, { which: 'best' });
    best.model.dispose();
    model.dispose();
    // A subtest, so that without torch it reports itself as skipped instead of the run check passing unasserted.
    await t.test('the run loads into the PyTorch reference (bench/pytorch/dcgan_vae.py check-run)', { skip: torchSkip }, () => {
      const c = spawnSync(PY, [join(ROOT, 'bench/pytorch/dcgan_vae.py'), 'check-run', out], { encoding: 'utf8' });
      assert.equal(c.status, 0, c.stderr);
    });
    // an existing run is not overwritten without --resume
    await assert.rejects(train({ out, model: config.model, trainSet: tinySet(24, 1, 28), batchSize: 8, maxSteps: 1, progress: 'none' }), /--resume/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadRun: clear errors for a missing or corrupt run folder, naming the file', async () => {
  const dir = tmp();
  try {
    assert.throws(() => loadRun(join(dir, 'nope')), (e: Error) => e instanceof OodgenError && /nope/.test(e.message));
    mkdirSync(join(dir, 'empty'));
    assert.throws(() => loadRun(join(dir, 'empty')), (e: Error) => e instanceof OodgenError && /config\.json/.test(e.message));
    mkdirSync(join(dir, 'badjson'));
    writeFileSync(join(dir, 'badjson', 'config.json'), '{ not json');
    assert.throws(() => loadRun(join(dir, 'badjson')), (e: Error) => e instanceof OodgenError && /config\.json.*not valid JSON/.test(e.message));
    mkdirSync(join(dir, 'badschema'));
    writeFileSync(join(dir, 'badschema', 'config.json'), JSON.stringify({ format: 'oodgen-run/1' }));
    assert.throws(() => loadRun(join(dir, 'badschema')), (e: Error) => e instanceof OodgenError && /invalid run config/.test(e.message));
    // a real run whose weights are then damaged
    const out = join(dir, 'run');
    await train({ out, model: { kind: 'ae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 4, width: 8 }, trainSet: tinySet(16), batchSize: 8, maxSteps: 2, progress: 'none', grids: false });
    writeFileSync(join(out, 'model.safetensors'), Buffer.from('garbage'));
    assert.throws(() => loadRun(out), (e: Error) => e instanceof OodgenError && /model\.safetensors/.test(e.message));
    rmSync(join(out, 'best.safetensors'), { force: true });
    assert.throws(() => loadRun(out, { which: 'best' }), (e: Error) => e instanceof OodgenError && /best\.safetensors.*missing/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decoder BN adaptation recomputes the decoder statistics on prior samples and can be undone', () => {
  const start = liveTensors();
  const m = createModel({ kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 4, width: 8 }, { generator: Generator.cpu(0) });
  const bns = m.decoder.namedModules().map(([, x]) => x).filter((x): x is BatchNorm2d => x instanceof BatchNorm2d);
  assert.equal(bns.length, 2);
  const before = bns.map((b) => b.runningMean.toArray());
  const encBefore = m.encoder.namedBuffers().map(([, t]) => t.toArray());
  const snap = snapshotDecoderBn(m);
  assert.equal(adaptDecoderBatchNorm(m, { samples: 96, batchSize: 32, generator: Generator.cpu(1) }), 2);
  assert.equal(m.training, false);
  const after = bns.map((b) => b.runningMean.toArray());
  assert.notDeepEqual(after, before);
  assert.ok(bns.every((b) => b.momentum === 0.1), 'momentum restored');
  // cumulative average over the 3 batches: equal to the mean of the per-batch means of the same stream
  assert.deepEqual(m.encoder.namedBuffers().map(([, t]) => t.toArray()), encBefore, 'the encoder is untouched');
  restoreDecoderBn(m, snap);
  assert.deepEqual(bns.map((b) => b.runningMean.toArray()), before);
  m.dispose();
  assert.equal(liveTensors(), start);
});

test('evaluateElbo and bits/dim', () => {
  assert.ok(Math.abs(bitsPerDim(-Math.LN2 * 1024, 1024) - 1) < 1e-12);
  const m = createModel({ kind: 'vae', decoder: 'bernoulli', channels: 1, imageSize: 32, zDim: 4, width: 8 }, { generator: Generator.cpu(0) });
  const set = tinySet(10);
  const a = evaluateElbo(m, set, { batchSize: 4, seed: 1 }), b = evaluateElbo(m, set, { batchSize: 4, seed: 1 });
  assert.equal(a.elbo, b.elbo);
  assert.equal(a.n, 10);
  assert.ok(Math.abs(a.elbo - (a.logLik - a.kl)) < 1e-2);
  // Bernoulli with soft targets has no probability of the 8-bit image: no bits/dim, and the report says why.
  assert.equal(a.bitsPerDim, null);
  assert.match(a.bitsPerDimNote, /Bernoulli.*not a normalised probability/);
  m.dispose();
});
