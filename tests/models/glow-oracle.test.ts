// Glow (src/models/glow.ts) against its PyTorch transcription (tests/fixtures/glow_ref.py; fixtures from
// tests/fixtures/make_flow_fixtures.py): one step of flow (plain and LU 1x1 conv), actnorm's data-dependent
// initialisation, a tiny Glow's exact log-density and bits/dim; an oodgen checkpoint loaded by the transcription
// with strict=True gives the same log-density; and a tiny Glow's loss goes down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import {
  Generator, tidy, noGrad, liveTensors, rand, floor, add, div, mul, reshape, expand, type Tensor,
} from '../../src/engine/index.js';
import { uniformInit } from '../../src/nn/init.js';
import { Adam } from '../../src/optim/index.js';
import { loadTensors, saveStateDict, saveTensors } from '../../src/io/checkpoint.js';
import { ActNorm, FlowStep } from '../../src/models/flow-layers.js';
import { createGlow, type GlowConfig } from '../../src/models/glow.js';
import { tempDir } from '../helpers/tmp.js';

const PY = '/usr/bin/python3';
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const FIX = fixture('flow_fixtures.safetensors');
const hasFixture = existsSync(FIX);
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

function prefixed(tensors: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

function close(actual: number[], expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  let worst = 0;
  actual.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - expected[i]!)); });
  assert.ok(worst <= tol, `${what}: max |oodgen - PyTorch| = ${worst} > ${tol}`);
}

const arr = (t: Tensor): number[] => Array.from(t.data() as Float64Array | Float32Array, Number);

test('one step of flow (plain and LU 1x1 conv) equals the PyTorch transcription: output and log-determinant', { skip: !hasFixture && 'run make_flow_fixtures.py' }, () => {
  const start = liveTensors();
  const { tensors } = loadTensors(FIX);
  for (const lu of [false, true]) {
    const name = lu ? 'step_lu' : 'step_plain';
    const step = new FlowStep(4, 8, { lu });
    step.loadStateDict(prefixed(tensors, `${name}.model.`), { strict: true });
    step.eval();
    tidy(() => noGrad(() => {
      const { y, logdet } = step.forwardFlow(tensors.get(`${name}.x`)!);
      close(arr(y), arr(tensors.get(`${name}.ref.y`)!), 1e-4, `${name} y`);
      close(arr(logdet), arr(tensors.get(`${name}.ref.logdet`)!), 1e-3, `${name} logdet`);
    }));
    step.dispose();
  }
  for (const t of tensors.values()) t.dispose();
  assert.equal(liveTensors(), start);
});

test('actnorm data-dependent initialisation equals the PyTorch transcription', { skip: !hasFixture && 'run make_flow_fixtures.py' }, () => {
  const { tensors } = loadTensors(FIX);
  const an = new ActNorm(3);
  tidy(() => {
    const y = an.forwardFlow(tensors.get('actnorm.x')!).y;
    close(arr(an.bias), arr(tensors.get('actnorm.ref.bias')!), 1e-5, 'bias');
    close(arr(an.logs), arr(tensors.get('actnorm.ref.logs')!), 1e-5, 'logs');
    close(arr(y), arr(tensors.get('actnorm.ref.y')!), 1e-5, 'y');
    assert.equal(an.initialized.item(), 1);
  });
  an.dispose();
  for (const t of tensors.values()) t.dispose();
});

test('a tiny Glow: exact log-density and bits/dim equal the PyTorch transcription', { skip: !hasFixture && 'run make_flow_fixtures.py' }, () => {
  const start = liveTensors();
  const { tensors, metadata } = loadTensors(FIX);
  const cfg = JSON.parse(metadata.glow_config!) as GlowConfig;
  const glow = createGlow(cfg);
  glow.loadStateDict(prefixed(tensors, 'glow.model.'), { strict: true });
  glow.eval();
  tidy(() => noGrad(() => {
    const x = tensors.get('glow.x')!;
    // log-densities of ~ -400 nats in float32 vs float64
    close(arr(glow.logDensity(x)), arr(tensors.get('glow.ref.logdensity')!), 5e-3, 'log p(x~)');
    close(arr(glow.bitsPerDim(x)), arr(tensors.get('glow.ref.bpd')!), 1e-4, 'bits/dim');
  }));
  glow.dispose();
  for (const t of tensors.values()) t.dispose();
  assert.equal(liveTensors(), start);
});

/** A tiny 1 x 8 x 8 Glow config (the flow takes any size divisible by 2^L; ModelConfig's type names the DCGAN sizes). */
const tinyGlow = (flow: GlowConfig['flow']): GlowConfig =>
  ({ kind: 'glow', decoder: 'gaussian', channels: 1, imageSize: 8 as 32, zDim: 64, width: flow!.width, flow });

/** Dequantized 8-bit images: smooth blobs, (k + u)/256. */
function blobs(n: number, size: number, seed: number): Tensor {
  return tidy(() => {
    const g = Generator.cpu(seed);
    const base = rand([n, 1, size / 2, size / 2], { generator: g });
    const img = reshape(expand(reshape(base, [n, 1, size / 2, 1, size / 2, 1]), [n, 1, size / 2, 2, size / 2, 2]), [n, 1, size, size]); // (n, 1, size, size)
    const k = floor(mul(img, 255.99));
    return div(add(k, rand(k.shape, { generator: g })), 256);
  });
}

test('an oodgen Glow checkpoint loads in the PyTorch transcription with strict=True and gives the same log-density', { skip: !hasTorch && 'needs /usr/bin/python3 with torch' }, () => {
  const dir = tempDir('glow');
  try {
    const cfg = tinyGlow({ levels: 2, steps: 2, width: 8, lu: false });
    const glow = createGlow(cfg, { generator: Generator.cpu(20) });
    const x = blobs(5, 8, 21);
    // First training forward initialises every actnorm; then random weights everywhere else.
    tidy(() => { glow.logDensity(x); });
    const g = Generator.cpu(22);
    for (const [name, p] of glow.namedParameters()) if (!name.includes('actnorm')) uniformInit(p, 0.2, g);
    glow.eval();
    const mine = tidy(() => noGrad(() => glow.logDensity(x).toArray()));
    saveStateDict(join(dir, 'model.safetensors'), glow);
    saveTensors(join(dir, 'x.safetensors'), new Map([['x', x]]));
    const r = spawnSync(PY, [fixture('glow_ref.py'), 'logdensity', JSON.stringify(cfg), join(dir, 'model.safetensors'), join(dir, 'x.safetensors')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const ref = JSON.parse(r.stdout) as { logdensity: number[] };
    close(mine, ref.logdensity, 5e-3, 'log p(x~) after strict load');
    glow.dispose();
    x.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tiny Glow trains: bits/dim go down, samples have the image shape and range', () => {
  const start = liveTensors();
  const cfg = tinyGlow({ levels: 2, steps: 2, width: 16, lu: true });
  const glow = createGlow(cfg, { generator: Generator.cpu(30) });
  const opt = new Adam(glow.parameters(), { lr: 3e-3 });
  const losses: number[] = [];
  for (let step = 0; step < 60; step++) {
    losses.push(tidy(() => {
      const x = blobs(32, 8, 100 + (step % 4));
      glow.zeroGrad();
      const { loss } = glow.loss(x);
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
  const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(Number.isFinite(last) && last < first - 0.5, `bits/dim ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  glow.eval();
  tidy(() => noGrad(() => {
    const s = glow.sample(4, { temperature: 0.7, generator: Generator.cpu(31) });
    assert.deepEqual(s.shape, [4, 1, 8, 8]);
    assert.ok(s.toFloat32Array().every((v) => v >= 0 && v <= 1));
  }));
  opt.dispose();
  glow.dispose();
  assert.equal(liveTensors(), start);
});
