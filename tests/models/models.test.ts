import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Generator, tidy, noGrad, liveTensors, rand, randn, zeros, full, isfinite, all } from '../../src/engine/index.js';
import { Adam } from '../../src/optim/index.js';
import { createModel } from '../../src/models/factory.js';
import type { ModelConfig } from '../../src/models/types.js';
import { sintroStep } from '../../src/models/sintro.js';
import { gaussianLogLik, categoricalLogLik, bernoulliLogLik, LOG_2PI } from '../../src/models/likelihoods.js';
import { saveStateDict, loadStateDict, loadTensors } from '../../src/io/checkpoint.js';

import { PY, ROOT, torchSkip } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

const SCRIPT = join(ROOT, 'bench/pytorch/dcgan_vae.py');

const tiny = (kind: ModelConfig['kind'], decoder: ModelConfig['decoder'], imageSize: 32 | 28, extra: Partial<ModelConfig> = {}): ModelConfig =>
  ({ kind, decoder, channels: 1, imageSize, zDim: 4, width: 8, ...extra });

const CASES: [ModelConfig['kind'], ModelConfig['decoder'], 32 | 28, Partial<ModelConfig>][] = [
  ['ae', 'gaussian', 32, {}], ['ae', 'bernoulli', 28, {}],
  ['vae', 'gaussian', 32, { sigma2: 'learned' }], ['vae', 'gaussian', 28, { sigma2: 0.1 }],
  ['vae', 'categorical', 32, {}], ['vae', 'bernoulli', 28, {}],
  ['sintro', 'gaussian', 32, {}],
];

test('every model family: shapes and finite outputs, 32x32 and 28x28', () => {
  const start = liveTensors();
  for (const [kind, decoder, size, extra] of CASES) {
    const m = createModel(tiny(kind, decoder, size, extra), { generator: Generator.cpu(1) });
    tidy(() => noGrad(() => {
      const x = rand([8, 1, size, size], { generator: Generator.cpu(2) });
      const p = m.encode(x);
      assert.deepEqual(p.mu.shape, [8, 4]);
      assert.equal(p.logvar === null, kind === 'ae');
      const d = m.decode(p.mu);
      assert.deepEqual(d.shape, decoder === 'categorical' ? [8, 256, 1, size, size] : [8, 1, size, size], `${kind}/${decoder}`);
      const ll = m.logLikelihood(x, d);
      assert.deepEqual(ll.shape, [8]);
      assert.equal(all(isfinite(ll)).item(), 1);
      const mean = m.mean(d);
      assert.deepEqual(mean.shape, [8, 1, size, size]);
      const s = m.sample(3, { temperature: 0.5, generator: Generator.cpu(3) });
      assert.deepEqual(s.shape, [3, 1, size, size]);
      const v = s.toFloat32Array();
      assert.ok(v.every((q) => q >= 0 && q <= 1), 'samples in [0,1]');
    }));
    assert.equal(m.continuousLikelihood, decoder === 'gaussian');
    m.dispose();
  }
  assert.equal(liveTensors(), start);
});

test('likelihoods: gaussian includes the log(2 pi sigma^2) terms, categorical and bernoulli per sample', () => {
  tidy(() => {
    const x = full([2, 1, 2, 2], 0.5), mu = zeros([2, 1, 2, 2]);
    // sigma2 = 0.1: -0.5 * 4 * (0.25/0.1 + log(2 pi 0.1))
    const g = gaussianLogLik(x, mu, Math.log(0.1)).toArray();
    const want = -0.5 * 4 * (0.25 / 0.1 + LOG_2PI + Math.log(0.1));
    for (const v of g) assert.ok(Math.abs(v - want) < 1e-4, `${v} vs ${want}`);
    // learned per-channel form agrees with the fixed one
    const g2 = gaussianLogLik(x, mu, full([1], Math.log(0.1))).toArray();
    for (const v of g2) assert.ok(Math.abs(v - want) < 1e-4);
    // uniform logits: log(1/256) per sub-pixel
    const c = categoricalLogLik(x, zeros([2, 256, 1, 2, 2])).toArray();
    for (const v of c) assert.ok(Math.abs(v + 4 * Math.log(256)) < 1e-3);
    // logits 0 = p 0.5: log 0.5 per pixel whatever the soft target
    const b = bernoulliLogLik(x, zeros([2, 1, 2, 2])).toArray();
    for (const v of b) assert.ok(Math.abs(v - 4 * Math.log(0.5)) < 1e-5);
  });
});

test('each model trains 30 steps on a tiny batch with a falling loss (and frees every step tensor)', () => {
  for (const [kind, decoder, size, extra] of CASES) {
    const g = Generator.cpu(5);
    const m = createModel(tiny(kind, decoder, size, extra), { generator: g });
    const x = rand([8, 1, size, size], { generator: g });
    const losses: number[] = [];
    const start = liveTensors();
    if (kind === 'sintro') {
      const oe = new Adam(m.encoder.parameters(), { lr: 2e-3 }), od = new Adam(m.decoder.parameters(), { lr: 2e-3 });
      for (let i = 0; i < 30; i++) {
        losses.push(tidy(() => sintroStep(m, x, { betaKl: 1, betaRec: 1, betaNeg: 256, gammaR: 1e-8 }, { encoder: oe, decoder: od }, g).lossD.item()));
        if (i === 0) assert.ok(liveTensors() > start); // optimizer slots now exist
      }
      const after = liveTensors();
      tidy(() => { sintroStep(m, x, { betaKl: 1, betaRec: 1, betaNeg: 256, gammaR: 1e-8 }, { encoder: oe, decoder: od }, g); });
      assert.equal(liveTensors(), after, 'a sintro step leaks no tensor');
      assert.ok(m.encoder.parameters().every((p) => p.requiresGrad) && m.decoder.parameters().every((p) => p.requiresGrad));
      oe.dispose(); od.dispose();
    } else {
      const opt = new Adam(m.parameters(), { lr: 2e-3 });
      const step = () => tidy(() => { opt.zeroGrad(); const { loss } = m.loss(x, g); loss.backward(); opt.step(); opt.zeroGrad(); return loss.item(); });
      losses.push(step());
      const after = liveTensors();
      for (let i = 1; i < 30; i++) losses.push(step());
      assert.equal(liveTensors(), after, `${kind}/${decoder}: a training step leaks no tensor`);
      opt.dispose();
    }
    const head = losses.slice(0, 5).reduce((a, b) => a + b) / 5, tail = losses.slice(-5).reduce((a, b) => a + b) / 5;
    assert.ok(losses.every(Number.isFinite), `${kind}/${decoder}: finite losses`);
    assert.ok(tail < head, `${kind}/${decoder}/${size}: loss should fall (${head.toFixed(3)} -> ${tail.toFixed(3)})`);
    x.dispose();
    m.dispose();
  }
});

test('checkpoint round trip: save, load into a fresh model, same outputs', () => {
  const dir = tempDir('models');
  try {
    for (const [kind, decoder, size, extra] of [CASES[2], CASES[4], CASES[1]]) {
      const cfg = tiny(kind, decoder, size, extra);
      const a = createModel(cfg, { generator: Generator.cpu(1) });
      // one train-mode forward so BN running stats are not the defaults
      tidy(() => { a.train(); a.loss(rand([8, 1, size, size], { generator: Generator.cpu(9) }), Generator.cpu(1)); });
      a.eval();
      const path = join(dir, `${kind}-${decoder}.safetensors`);
      saveStateDict(path, a);
      const b = createModel(cfg, { generator: Generator.cpu(77) });
      loadStateDict(path, b);
      b.eval();
      tidy(() => noGrad(() => {
        const x = rand([4, 1, size, size], { generator: Generator.cpu(4) });
        const ya = a.decode(a.code(x)).toFloat32Array(), yb = b.decode(b.code(x)).toFloat32Array();
        assert.deepEqual(ya, yb);
        assert.deepEqual(a.logLikelihood(x, a.decode(a.code(x))).toArray(), b.logLikelihood(x, b.decode(b.code(x))).toArray());
      }));
      if (extra.sigma2 === 'learned') assert.ok(a.stateDict().has('log_sigma2'));
      a.dispose(); b.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reference VAE (vae/gaussian, c=3, z=128, width 64, 32x32) has exactly the PyTorch state_dict', { skip: torchSkip }, () => {
  const dir = tempDir('ref');
  try {
    const cfg: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 3, imageSize: 32, zDim: 128, width: 64 };
    // PyTorch -> oodgen: load PyTorch's checkpoint strictly, compare the encoder/decoder outputs with its probe.
    const pyPath = join(dir, 'py.safetensors');
    const r = spawnSync(PY, [SCRIPT, 'save-checkpoint', pyPath, '--c', '3', '--z', '128'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const m = createModel(cfg);
    loadStateDict(pyPath, m);
    m.eval();
    const { tensors: probe } = loadTensors(pyPath + '.probe.safetensors');
    tidy(() => noGrad(() => {
      const h = m.encoder.forward(probe.get('_probe.x')!).toFloat32Array(), want = probe.get('_probe.h')!.toFloat32Array();
      let err = 0;
      for (let i = 0; i < h.length; i++) err = Math.max(err, Math.abs(h[i] - want[i]));
      assert.ok(err < 1e-4, `encoder differs from PyTorch by ${err}`);
      const xr = m.decode(probe.get('_probe.z')!).toFloat32Array(), wr = probe.get('_probe.xr')!.toFloat32Array();
      let err2 = 0;
      for (let i = 0; i < xr.length; i++) err2 = Math.max(err2, Math.abs(xr[i] - wr[i]));
      assert.ok(err2 < 1e-4, `decoder differs from PyTorch by ${err2}`);
    }));
    for (const t of probe.values()) t.dispose();
    // oodgen -> PyTorch
    const ours = join(dir, 'ours.safetensors');
    saveStateDict(ours, m);
    const c = spawnSync(PY, [SCRIPT, 'check-checkpoint', ours, '--c', '3', '--z', '128'], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /^OK/);
    m.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createModel refuses impossible configs', () => {
  assert.throws(() => createModel(tiny('ae', 'categorical', 32)), /categorical/);
  assert.throws(() => createModel(tiny('sintro', 'bernoulli', 32)), /gaussian/);
  assert.throws(() => createModel({ ...tiny('vae', 'gaussian', 32), imageSize: 64 as 32 }), /image size/);
  assert.throws(() => createModel({ ...tiny('vae', 'bernoulli', 32), sigma2: 0.1 }), /sigma2/);
  randn([1]).dispose();
});

test('createModel: a bad config is an OodgenError naming the option', async () => {
  const { OodgenError } = await import('../../src/errors.js');
  const base = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4 } as ModelConfig;
  const bad: [Partial<ModelConfig>, RegExp][] = [
    [{ zDim: 0 }, /^model config: z dim must be a positive integer, got 0$/],
    [{ decoder: 'poisson' as ModelConfig['decoder'] }, /unknown decoder 'poisson'/],
    [{ decoder: 'bernoulli', sigma2: 0.1 }, /sigma2 applies to the gaussian decoder only \(decoder is bernoulli\)/],
  ];
  for (const [patch, msg] of bad) {
    assert.throws(() => createModel({ ...base, ...patch }), (e: unknown) => e instanceof OodgenError && msg.test((e as Error).message), JSON.stringify(patch));
  }
});
