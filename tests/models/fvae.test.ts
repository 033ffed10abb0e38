// f-VAE (src/models/fvae.ts) through the likelihood scores, against its PyTorch transcription
// (tests/fixtures/fvae_ref.py): an oodgen checkpoint loads there with strict=True, and for the same fixed noise the
// scores' reconstruction term, flow-prior term and IWAE equal PyTorch's float64 values. Also: config checks, a
// training loss that falls, and temperature sampling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import {
  Generator, tidy, noGrad, liveTensors, rand, randn, addInPlace, logsumexp, sub, tensor, max, abs,
} from '../../src/engine/index.js';
import { uniformInit } from '../../src/nn/init.js';
import { Adam } from '../../src/optim/index.js';
import { saveStateDict, saveTensors } from '../../src/io/checkpoint.js';
import { createFvae, fvaeConfigProblems, type FvaeConfig } from '../../src/models/fvae.js';
import { elboComponents, iwaeLogLikelihood, withBnMode } from '../../src/scores/index.js';
import { tempDir } from '../helpers/tmp.js';

const PY = '/usr/bin/python3';
const REF = fileURLToPath(new URL('../fixtures/fvae_ref.py', import.meta.url));
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

const CONFIGS: FvaeConfig[] = [
  // dim(z) = dim(x): the multi-scale flow over w shaped as the image (Fig. 3.1 a)
  { kind: 'fvae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 1024, width: 4, sigma2: 0.1, flow: { levels: 2, steps: 1, width: 4, lu: true } },
  // a vector latent with a learned decoder variance and a plain 1x1 conv
  { kind: 'fvae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 6, width: 4, sigma2: 'learned', flow: { levels: 1, steps: 2, width: 8, lu: false } },
];

test('f-VAE through the scores equals its PyTorch transcription (strict checkpoint load, fixed noise, BN eval)', { skip: !hasTorch && 'needs /usr/bin/python3 with torch' }, () => {
  const start = liveTensors();
  for (const [ci, cfg] of CONFIGS.entries()) {
    const dir = tempDir('fvae');
    try {
      const model = createFvae(cfg, { generator: Generator.cpu(40 + ci) });
      const x = rand([3, 1, cfg.imageSize, cfg.imageSize], { generator: Generator.cpu(50) });
      tidy(() => { model.loss(x, Generator.cpu(51)); }); // first training forward: actnorm initialisation
      const g = Generator.cpu(52);
      for (const [name, p] of model.namedParameters()) if (!name.includes('actnorm')) uniformInit(p, name === 'posterior_logvar' ? 1 : 0.2, g);
      noGrad(() => {
        for (const [name, b] of model.namedBuffers()) {
          if (name.endsWith('running_mean')) uniformInit(b, 0.1, g);
          if (name.endsWith('running_var')) { uniformInit(b, 0.5, g); addInPlace(b, 1); }
        }
      });
      model.eval();
      const K = 4;
      const eps = randn([K, 3, cfg.zDim], { generator: Generator.cpu(53) });
      saveStateDict(join(dir, 'model.safetensors'), model);
      saveTensors(join(dir, 'inputs.safetensors'), new Map([['x', x], ['eps', eps]]));
      const r = spawnSync(PY, [REF, 'logweights', JSON.stringify(cfg), join(dir, 'model.safetensors'), join(dir, 'inputs.safetensors')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const ref = JSON.parse(r.stdout) as { logpx: number[][]; logpz: number[][]; logqz: number[][] };
      tidy(() => {
        const c = withBnMode(model, 'eval', () => elboComponents(model, x, { eps: tidy(() => eps.narrow(0, 0, 1)) }));
        const iw = withBnMode(model, 'eval', () => iwaeLogLikelihood(model, x, { k: K, eps, decodeBatch: 5 }));
        const w = tensor(ref.logpx.flat().map((v, i) => v + ref.logpz.flat()[i]! - ref.logqz.flat()[i]!), [K, 3], { dtype: 'float64' });
        const iwRef = sub(logsumexp(w, 0), Math.log(K)).toArray();
        const near = (a: number[], b: number[], what: string) => a.forEach((v, i) => {
          const tol = 2e-6 * Math.abs(b[i]!) + 2e-3;
          assert.ok(Math.abs(v - b[i]!) <= tol, `${what}[${i}] (config ${ci}): oodgen ${v}, PyTorch ${b[i]}`);
        });
        near(c.reconstruction.toArray(), ref.logpx[0]!, 'log p(x|w)');
        near(c.prior.toArray(), ref.logpz[0]!, 'log p(w) (flow prior)');
        near(iw.logLikelihood.toArray(), iwRef, 'IWAE');
      });
      for (const t of [model, x, eps]) t.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.equal(liveTensors(), start);
});

test('f-VAE config: zDim up to dim(x), a Gaussian decoder, a flow that fits the latent', () => {
  const base = CONFIGS[1]!;
  assert.deepEqual(fvaeConfigProblems(base), []);
  assert.match(fvaeConfigProblems({ ...base, zDim: 785 }).join(), /z dim must be an integer from 2 to dim\(x\) = 784/);
  assert.match(fvaeConfigProblems({ ...base, decoder: 'categorical' }).join(), /Gaussian decoder/);
  assert.match(fvaeConfigProblems({ ...base, zDim: 784, flow: { levels: 3, steps: 1, width: 4, lu: false } }).join(), /multiples of 8/);
  assert.throws(() => createFvae({ ...base, zDim: 0 }), /z dim/);
});

test('f-VAE trains (loss falls, beta weights the KL) and samples at a temperature', () => {
  const start = liveTensors();
  const cfg: FvaeConfig = { kind: 'fvae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 8, width: 8, sigma2: 'learned', beta: 1, flow: { levels: 1, steps: 2, width: 16, lu: true } };
  const model = createFvae(cfg, { generator: Generator.cpu(60) });
  const opt = new Adam(model.parameters(), { lr: 2e-3 });
  const data = rand([16, 1, 28, 28], { generator: Generator.cpu(61) });
  const noise = Generator.cpu(62);
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    losses.push(tidy(() => {
      model.zeroGrad();
      const { loss } = model.loss(data, noise);
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3, last = losses.slice(-3).reduce((a, b) => a + b) / 3;
  assert.ok(last < first - 50, `loss ${first.toFixed(1)} -> ${last.toFixed(1)}`);
  tidy(() => {
    // beta: loss = -(logLik - beta KL) from the same noise
    const t1 = model.elboTerms(data, Generator.cpu(63));
    const withBeta = createFvae({ ...cfg, beta: 10 }, { generator: Generator.cpu(60) });
    withBeta.loadStateDict(model.stateDict());
    const l10 = withBeta.loss(data, Generator.cpu(63)).loss.item();
    const expect = -(t1.logLik.mean().item() - 10 * t1.kl.mean().item());
    assert.ok(Math.abs(l10 - expect) < 1e-3 * Math.abs(expect), `beta = 10: ${l10} vs ${expect}`);
    withBeta.dispose();
  });
  model.eval();
  tidy(() => noGrad(() => {
    const s = model.sample(5, { temperature: 0.5, generator: Generator.cpu(64) });
    assert.deepEqual(s.shape, [5, 1, 28, 28]);
    assert.ok(s.toFloat32Array().every((v) => v >= 0 && v <= 1));
    const a = model.sample(2, { temperature: 0, generator: Generator.cpu(65) }), b = model.sample(2, { temperature: 0, generator: Generator.cpu(66) });
    assert.equal(max(abs(sub(a, b))).item(), 0, 'T = 0: the prior flow\'s mode, independent of the noise');
  }));
  for (const t of [opt, model, data]) t.dispose();
  assert.equal(liveTensors(), start);
});

