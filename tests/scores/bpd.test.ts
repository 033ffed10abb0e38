// Bits/dim of the 8-bit image (issue 11 item 4): the bpd score is -log2 P(x8) / D with P(x8) bounded by an IWAE
// built on the discretized Gaussian (each level's bin [k/256, (k+1)/256) integrated), checked against closed forms
// and 2-D quadrature of the exact P(x8) of a linear-Gaussian model; Bernoulli and AE decoders are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, liveTensors, Generator, noGrad, copy_, type Tensor } from '../../src/engine/index.js';
import { BpdDetector, iwaeLogLikelihood, createDetector } from '../../src/scores/index.js';
import { discretizedGaussianLogLik } from '../../src/models/discretized-gaussian.js';
import { createModel } from '../../src/models/factory.js';
import { OodgenError } from '../../src/errors.js';
import { LinearGaussianModel, type LinearGaussianSpec, IMAGE_SHAPE } from './toy-models.js';

/** The linear-Gaussian toy model with the discretized Gaussian as its probability of the 8-bit image. */
class Discretized extends LinearGaussianModel {
  readonly imageProbabilityProblem = null;
  imageLogProb(x: Tensor, decoded: Tensor): Tensor {
    return discretizedGaussianLogLik(x, decoded, Math.log(this.spec.s2));
  }
}

/** P(level k) = integral over [k/256, (k+1)/256) of N(t; m, s2), by composite Simpson (float64; error ~1e-13). */
function binProb(k: number, m: number, s2: number): number {
  const a = k / 256, b = (k + 1) / 256, n = 16, h = (b - a) / n;
  const f = (t: number) => Math.exp(-((t - m) ** 2) / (2 * s2)) / Math.sqrt(2 * Math.PI * s2);
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

const D = 6;
// Interior levels only (the Simpson oracle integrates finite bins): x = level / 255.
const LEVELS = [[3, 200, 77, 128, 254, 1], [17, 90, 180, 240, 33, 64]];
const X = LEVELS.flat().map((k) => k / 255);

test('bpd of a model whose decoder ignores z: exactly -sum log P(bin) / (D ln 2), not the density + 8', () => {
  const start = liveTensors();
  // W = 0: the decoder emits b whatever z, the encoder is the prior, so every importance weight is P(x8).
  const spec: LinearGaussianSpec = { W: Array.from({ length: D }, () => [0, 0]), b: [0.2, 0.9, 0.35, 0.5, 0.7, 0.1], s2: 0.02 };
  const model = new Discretized(spec);
  tidy(() => {
    const x = tensor(X, [2, ...IMAGE_SHAPE]);
    const r = new BpdDetector(model, { k: 3, seed: 1 }).evaluate(x);
    LEVELS.forEach((lv, i) => {
      const logP = lv.reduce((a, k, j) => a + Math.log(binProb(k, spec.b[j]!, spec.s2)), 0);
      const bpd = -logP / (D * Math.LN2);
      assert.ok(Math.abs(r.score[i]! - bpd) < 2e-5, `image ${i}: bpd ${r.score[i]} vs ${bpd}`);
      assert.ok(Math.abs(r.columns.loglik![i]! - logP) < 2e-4, `image ${i}: log P ${r.columns.loglik![i]} vs ${logP}`);
      // The old definition (density at the raw pixel values, + 8 bits) differs by far more than the tolerance.
      const logDensity = lv.reduce((a, k, j) => a - ((k / 255 - spec.b[j]!) ** 2) / (2 * spec.s2) - 0.5 * Math.log(2 * Math.PI * spec.s2), 0);
      assert.ok(Math.abs(8 - logDensity / (D * Math.LN2) - bpd) > 1e-3);
      // Bins of width 1/255 (a wrong constant) would move it by ~log2(256/255) = 0.0056 bits/dim.
      const wrong = -lv.reduce((a, k, j) => a + Math.log(binProb(k, spec.b[j]!, spec.s2) * 256 / 255), 0) / (D * Math.LN2);
      assert.ok(Math.abs(wrong - bpd) > 5e-3);
    });
  });
  model.dispose();
  assert.equal(liveTensors(), start);
});

test('bpd with a latent: the IWAE bound on the discretized likelihood converges to the exact P(x8) from quadrature over z', () => {
  const start = liveTensors();
  const spec: LinearGaussianSpec = {
    W: [[0.15, 0.08], [0.15, -0.08], [0.15, 0], [0.15, 0], [0, 0.08], [0, -0.08]], b: [0.3, 0.4, 0.5, 0.45, 0.2, 0.6], s2: 0.01,
  };
  const model = new Discretized(spec);
  // log P(x8) = log integral N(z; 0, I) prod_j P(k_j | (W z + b)_j, s2) dz, on a 2-D grid over [-7, 7]^2.
  const exact = LEVELS.map((lv) => {
    const step = 0.05, lim = 7;
    let acc = 0;
    for (let z1 = -lim; z1 <= lim + 1e-9; z1 += step) {
      for (let z2 = -lim; z2 <= lim + 1e-9; z2 += step) {
        let p = Math.exp(-0.5 * (z1 * z1 + z2 * z2)) / (2 * Math.PI);
        for (let j = 0; j < D; j++) p *= binProb(lv[j]!, spec.W[j]![0]! * z1 + spec.W[j]![1]! * z2 + spec.b[j]!, spec.s2);
        acc += p * step * step;
      }
    }
    return Math.log(acc);
  });
  tidy(() => {
    const x = tensor(X, [2, ...IMAGE_SHAPE]);
    const ll = iwaeLogLikelihood(model, x, { k: 4000, seed: 3, image: true }).logLikelihood.toArray();
    const r = new BpdDetector(model, { k: 4000, seed: 3 }).evaluate(x);
    ll.forEach((v, i) => {
      assert.ok(Math.abs(v - exact[i]!) < 0.01, `image ${i}: L_4000 ${v} vs exact log P(x8) ${exact[i]}`);
      assert.ok(Math.abs(r.score[i]! - -exact[i]! / (D * Math.LN2)) < 0.01 / (D * Math.LN2), `bpd ${r.score[i]}`);
    });
  });
  model.dispose();
  assert.equal(liveTensors(), start);
});

test('bpd is refused, with the reason, for a Bernoulli decoder (soft targets) and for a deterministic AE', () => {
  const start = liveTensors();
  for (const [kind, decoder, why] of [['vae', 'bernoulli', /Bernoulli decoder with soft targets.*not a normalised probability of the 8-bit image/], ['ae', 'gaussian', /deterministic autoencoder/]] as const) {
    const m = createModel({ kind, decoder, channels: 1, imageSize: 28, zDim: 2, width: 4 }, { generator: Generator.cpu(0) });
    assert.throws(() => createDetector('bpd', m, { k: 2 }), (e: Error) => e instanceof OodgenError && /'bpd'/.test(e.message) && why.test(e.message));
    m.dispose();
  }
  assert.equal(liveTensors(), start);
});

test('a VAE\'s imageLogProb: the discretized Gaussian with its own per-channel learned variances', () => {
  const start = liveTensors();
  const m = createModel({ kind: 'vae', decoder: 'gaussian', sigma2: 'learned', channels: 3, imageSize: 32, zDim: 2, width: 4 }, { generator: Generator.cpu(1) });
  const ls = [Math.log(0.01), Math.log(0.04), Math.log(0.2)];
  tidy(() => noGrad(() => { copy_((m as unknown as { logSigma2: Tensor }).logSigma2, tensor(ls, [3])); }));
  tidy(() => {
    // Levels 1..254 (interior bins, which the Simpson oracle integrates), means spread over [0.2, 0.8].
    const n = 2 * 3 * 1024;
    const xs = Array.from({ length: n }, (_, i) => (((i * 37) % 254) + 1) / 255);
    const ms = Array.from({ length: n }, (_, i) => 0.2 + 0.6 * (((i * 53) % 101) / 100));
    const got = (m as unknown as { imageLogProb(x: Tensor, d: Tensor): Tensor }).imageLogProb(tensor(xs, [2, 3, 32, 32]), tensor(ms, [2, 3, 32, 32])).toArray();
    for (let b = 0; b < 2; b++) {
      let want = 0;
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < 1024; p++) {
          const i = (b * 3 + c) * 1024 + p;
          want += Math.log(binProb(Math.round(xs[i]! * 255), Math.fround(ms[i]!), Math.exp(ls[c]!)));
        }
      }
      assert.ok(Math.abs(got[b]! - want) < 2e-2, `image ${b}: ${got[b]} vs ${want}`);
    }
  });
  m.dispose();
  assert.equal(liveTensors(), start);
});
