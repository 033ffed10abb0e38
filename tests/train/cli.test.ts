import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { OodgenError } from '../../src/errors.js';
import { parseTrainOptions } from '../../src/cli/train.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = new URL('../..', import.meta.url).pathname;

test('oodgen train: bad options and impossible combinations are refused before any work', async () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ model: 'gan', data: 'fashion-mnist', out: 'x', epochs: '1' }, /--model must be/],
    [{ model: 'vae', decoder: 'poisson', data: 'fashion-mnist', out: 'x', epochs: '1' }, /--decoder must be/],
    [{ model: 'ae', decoder: 'categorical', data: 'fashion-mnist', out: 'x', epochs: '1' }, /categorical/],
    [{ model: 'sintro', decoder: 'bernoulli', data: 'fashion-mnist', out: 'x', epochs: '1' }, /gaussian/],
    [{ model: 'vae', data: 'fashion-mnist', out: 'x', epochs: '1', imageSize: '64' }, /--image-size/],
    [{ model: 'vae', data: 'cifar10', out: 'x', epochs: '1', imageSize: '28' }, /--channels/],
    [{ model: 'vae', data: 'fashion-mnist', out: 'x' }, /training length/],
    [{ model: 'vae', data: 'fashion-mnist', out: 'x', epochs: '0' }, /--epochs/],
    [{ model: 'vae', data: 'fashion-mnist', out: 'x', epochs: '1', lr: '-1' }, /--lr/],
    [{ model: 'vae', data: 'fashion-mnist', out: 'x', epochs: '1', device: 'tpu' }, /--device/],
    [{ model: 'vae', decoder: 'bernoulli', data: 'fashion-mnist', out: 'x', epochs: '1', sigma2: '0.1' }, /sigma2/],
    [{ model: 'vae', data: 'fashion-mnist', out: 'x', epochs: '1', betaNeg: '256' }, /Soft-IntroVAE/],
    [{ model: 'vae', data: 'nosuchset', out: 'x', epochs: '1' }, /unknown dataset/],
    [{ out: 'x', resume: true, model: 'vae' }, /--resume/],
  ];
  for (const [raw, re] of bad) {
    await assert.rejects(parseTrainOptions(raw, ['node', 'oodgen']), (e: Error) => e instanceof OodgenError && re.test(e.message), JSON.stringify(raw));
  }
  const ok = await parseTrainOptions({ model: 'sintro', data: 'cifar10', out: 'runs/x', timeBudget: '1' }, ['node', 'oodgen']);
  assert.equal(ok.model!.zDim, 128);
  assert.equal(ok.batchSize, 32);
  assert.equal(ok.lr, 2e-4);
  assert.deepEqual(ok.hyper, { betaKl: 1, betaRec: 1, betaNeg: 256, gammaR: 1e-8 });
  assert.equal(ok.model!.channels, 3);
  const fm = await parseTrainOptions({ model: 'sintro', data: 'fashion-mnist:train', out: 'runs/x', epochs: '1' }, ['node', 'oodgen']);
  assert.equal(fm.model!.zDim, 32);
  assert.equal(fm.batchSize, 128);
});

test('the oodgen binary refuses a bad option with exit status 1 and creates no run folder', () => {
  const dir = tempDir('cli');
  try {
    const out = join(dir, 'run');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/oodgen.js'), 'train', '--model', 'ae', '--decoder', 'categorical', '--data', 'fashion-mnist', '--out', out, '--epochs', '1'], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /categorical/);
    assert.equal(existsSync(out), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C during oodgen train saves a checkpoint and exits 130; --resume continues it', async () => {
  const dir = tempDir('cli');
  try {
    const out = join(dir, 'run');
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [join(ROOT, 'bin/oodgen.js'), 'train', '--model', 'vae', '--data', 'noise:64', '--out', out,
      '--width', '8', '--z-dim', '4', '--batch-size', '8', '--max-steps', '100000', '--progress', 'json', '--log-every', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const status = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/"step":3\b/.test(err) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (code) => resolve(code));
    });
    assert.equal(status, 130, err);
    const { readRunState } = await import('../../src/train/run.js');
    const st = readRunState(out);
    assert.ok(st.step >= 3);
    assert.match(st.stopReason ?? '', /interrupted/);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/oodgen.js'), 'train', '--out', out, '--resume', '--max-steps', String(st.step + 2), '--progress', 'none'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readRunState(out).step, st.step + 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('oodgen train --no-grids ends without the PNG grids (a machine without sharp); by default they are written', () => {
  const dir = tempDir('cli');
  try {
    const run = (out: string, extra: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/oodgen.js'), 'train', '--model', 'vae', '--data', 'noise:32', '--out', out,
      '--width', '8', '--z-dim', '4', '--batch-size', '8', '--max-steps', '2', '--progress', 'none', ...extra], { encoding: 'utf8' });
    const a = run(join(dir, 'a'), ['--no-grids']);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(existsSync(join(dir, 'a', 'state.json')), true);
    assert.equal(existsSync(join(dir, 'a', 'samples.png')), false);
    assert.equal(existsSync(join(dir, 'a', 'reconstructions.png')), false);
    const b = run(join(dir, 'b'), []);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(existsSync(join(dir, 'b', 'samples.png')), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
