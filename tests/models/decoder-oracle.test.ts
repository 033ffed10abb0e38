// Decoder likelihoods and BatchNorm 'dec' scoring against PyTorch (tests/fixtures/decoder_oracle.py, float64,
// likelihoods written from torch.distributions): for each case the ELBO components and IWAE with fixed noise in
// BatchNorm modes eval and dec, and the training loss with its gradient for every parameter.
//   gaussian, C = 3, learned variance: log_sigma2 = (-1.5, 0.2, 0.9), one value per channel, so a variance
//     applied to the wrong channel, a missing log(2 pi sigma^2) term or a wrong gradient of log_sigma2 shows;
//   bernoulli, 28x28: logits scaled up to several units (checked below), soft targets off {0, 1};
//   categorical, C = 3: sharpened logits so the 256-way softmax is far from uniform, and the (C, 256) channel
//     layout matters.
// BatchNorm running statistics are randomised so eval and dec differ (checked below); in dec mode IWAE decodes
// its K = 6 samples in chunks of 2 (decodeBatch = 2B), so the chunking of batch statistics is compared too.
// Tolerances: measured errors are 1/9 of them or less. Measured with tests/fixtures/oracle_mutations.py, each of these
// fails the test by 10x the tolerance or more: the learned variance without log(2 pi); the channel variances in
// reverse order; the categorical logits in (256, C) instead of (C, 256) layout; Bernoulli targets rounded to {0, 1};
// 'dec' mode leaving the decoder on running statistics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, liveTensors, rand, randn, round, div, mul, tensor, noGrad, tidy, type Tensor } from '../../src/engine/index.js';
import { copy_ } from '../../src/engine/ops/inplace.js';
import { createModel } from '../../src/models/factory.js';
import type { ModelConfig } from '../../src/models/types.js';
import { cpuNoise, type LatentBase } from '../../src/models/vae.js';
import { elboComponents, iwaeLogLikelihood, withBnMode, type BnMode } from '../../src/scores/index.js';
import { saveTensors, loadTensors } from '../../src/io/checkpoint.js';
import { runPython, torchSkip } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

const B = 5, K = 6, TRAIN_SEED = 17;

interface Case { config: ModelConfig; decodeBatch: number; prepare(m: LatentBase): void }

/** Multiplies a parameter in place. */
function scaleParam(m: LatentBase, name: string, s: number): void {
  const p = m.stateDict().get(name);
  assert.ok(p, name);
  noGrad(() => tidy(() => copy_(p, mul(p, s))));
}

const CASES: Record<string, Case> = {
  gaussian: {
    config: { kind: 'vae', decoder: 'gaussian', channels: 3, imageSize: 32, zDim: 3, width: 4, sigma2: 'learned', beta: 0.6 },
    decodeBatch: 2 * B,
    prepare: (m) => noGrad(() => tidy(() => copy_(m.logSigma2!, tensor([-1.5, 0.2, 0.9])))),
  },
  bernoulli: {
    config: { kind: 'vae', decoder: 'bernoulli', channels: 1, imageSize: 28, zDim: 3, width: 4, beta: 1.4 },
    decodeBatch: 2 * B,
    prepare: (m) => { scaleParam(m, 'decoder.8.weight', 25); scaleParam(m, 'decoder.8.bias', 8); },
  },
  categorical: {
    config: { kind: 'vae', decoder: 'categorical', channels: 3, imageSize: 32, zDim: 3, width: 4 },
    decodeBatch: 2 * B,
    prepare: (m) => { scaleParam(m, 'decoder.8.weight', 250); scaleParam(m, 'decoder.8.bias', 250); },
  },
};

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

test('decoders (gaussian learned per-channel variance C=3, bernoulli, categorical C=3) and BatchNorm dec mode equal PyTorch', { skip: torchSkip }, () => {
  const start = liveTensors();
  const dir = tempDir('decoders');
  const models = new Map<string, LatentBase>();
  const owned: Tensor[] = [];
  try {
    const input = new Map<string, Tensor>();
    const meta: Record<string, { config: ModelConfig; beta: number; decodeBatch: number }> = {};
    let seed = 30;
    for (const [name, c] of Object.entries(CASES)) {
      const g = Generator.cpu(seed++);
      const m = createModel(c.config, { generator: g });
      models.set(name, m);
      c.prepare(m);
      noGrad(() => tidy(() => {
        for (const [k, buf] of m.namedBuffers()) {
          if (k.endsWith('running_mean')) copy_(buf, mul(randn(buf.shape, { generator: g }), 0.2));
          if (k.endsWith('running_var')) copy_(buf, mul(rand(buf.shape, { generator: g }), 2).add(0.3));
        }
      }));
      const { channels: ch, imageSize: s } = c.config;
      // 8-bit images for the categorical decoder (its levels), continuous values elsewhere.
      const raw = rand([B, ch, s, s], { generator: g }); // (B, C, H, W)
      const x = c.config.decoder === 'categorical' ? tidy(() => div(round(mul(raw, 255)), 255)) : raw.clone();
      raw.dispose();
      const epsElbo = randn([1, B, 3], { generator: g }), epsIwae = randn([K, B, 3], { generator: g });
      const epsTrain = cpuNoise([B, 3], 'cpu', Generator.cpu(TRAIN_SEED));
      owned.push(x, epsElbo, epsIwae, epsTrain);
      input.set(`${name}.x`, x).set(`${name}.eps_elbo`, epsElbo).set(`${name}.eps_iwae`, epsIwae).set(`${name}.eps_train`, epsTrain);
      for (const [k, v] of m.stateDict()) input.set(`${name}.model.${k}`, v);
      meta[name] = { config: c.config, beta: c.config.beta ?? 1, decodeBatch: c.decodeBatch };
    }
    saveTensors(join(dir, 'in.safetensors'), input, { cases: JSON.stringify(meta) });
    runPython('tests/fixtures/decoder_oracle.py', [join(dir, 'in.safetensors'), join(dir, 'out.safetensors')]);
    const { tensors: ref } = loadTensors(join(dir, 'out.safetensors'));
    const refArr = (k: string) => {
      const t = ref.get(k);
      assert.ok(t, `oracle output lacks ${k}`);
      return Array.from(t.data() as Float64Array);
    };

    for (const [name, c] of Object.entries(CASES)) {
      const m = models.get(name)!;
      const x = input.get(`${name}.x`)!;
      // The logits really are far from 0 (bernoulli) / the softmax far from uniform (categorical).
      if (c.config.decoder !== 'gaussian') {
        const spread = tidy(() => withBnMode(m, 'eval', () => noGrad(() => {
          let lo = Infinity, hi = -Infinity;
          for (const v of m.decode(m.code(x)).toFloat32Array()) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
          return hi - lo;
        })));
        assert.ok(spread > 6, `${name}: decoder outputs span only ${spread}`);
      }
      const byMode: Record<string, number[]> = {};
      for (const mode of ['eval', 'dec'] as BnMode[]) {
        tidy(() => {
          const got = withBnMode(m, mode, () => {
            const e = elboComponents(m, x, { eps: input.get(`${name}.eps_elbo`)!, decodeBatch: c.decodeBatch });
            const iw = iwaeLogLikelihood(m, x, { k: K, eps: input.get(`${name}.eps_iwae`)!, decodeBatch: c.decodeBatch });
            return { rec: e.reconstruction, prior: e.prior, entropy: e.entropy, elbo: e.elbo, iwae: iw.logLikelihood };
          });
          for (const [k, t] of Object.entries(got)) {
            const want = refArr(`${name}.${mode}.${k}`);
            const { diff, scale } = maxDiff(t.toArray(), want);
            // float32 against float64: a few ulps of values up to ~10^4 nats.
            assert.ok(diff <= 2e-6 * Math.max(scale, 100), `${name} ${mode} ${k}: max |oodgen - PyTorch| = ${diff.toExponential(2)} (values up to ${scale.toFixed(1)})`);
          }
          byMode[mode] = got.elbo.toArray();
        });
      }
      const { diff: modeGap, scale } = maxDiff(byMode.eval!, byMode.dec!);
      assert.ok(modeGap > 1e-3 * scale, `${name}: eval and dec modes should differ (gap ${modeGap})`);

      // Training loss and every parameter's gradient (BatchNorm in train mode, noise from TRAIN_SEED).
      m.train();
      tidy(() => {
        m.zeroGrad();
        const { loss } = m.loss(x, Generator.cpu(TRAIN_SEED));
        loss.backward();
        const want = refArr(`${name}.train.loss`)[0]!;
        assert.ok(Math.abs(loss.item() - want) <= 2e-6 * Math.max(1, Math.abs(want)), `${name}: loss ${loss.item()} vs PyTorch ${want}`);
        const named = m.namedParameters();
        const scales = named.map(([k]) => maxDiff(refArr(`${name}.grad.${k}`), refArr(`${name}.grad.${k}`)).scale);
        const top = Math.max(...scales);
        assert.equal(named.length, [...ref.keys()].filter((k) => k.startsWith(`${name}.grad.`)).length, `${name}: parameter count`);
        for (const [k, p] of named) {
          const gr = p.grad();
          assert.ok(gr, `${name}: ${k} has no gradient`);
          const { diff, scale: s } = maxDiff(gr.toArray(), refArr(`${name}.grad.${k}`));
          // Biases before BatchNorm have an exact gradient of 0: their rounding is measured against the largest gradient.
          assert.ok(diff <= 1e-4 * s + 3e-6 * top, `${name}: grad ${k}: max |oodgen - PyTorch| = ${diff.toExponential(2)}, max |PyTorch| = ${s.toExponential(2)}`);
        }
        if (name === 'gaussian') {
          const gl = refArr('gaussian.grad.log_sigma2');
          assert.ok(new Set(gl.map((v) => v.toFixed(3))).size === 3, `log_sigma2 gradients should differ per channel: ${gl}`);
        }
        m.zeroGrad();
      });
    }
    for (const t of ref.values()) t.dispose();
  } finally {
    for (const m of models.values()) m.dispose();
    for (const t of owned) t.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(liveTensors(), start);
});
