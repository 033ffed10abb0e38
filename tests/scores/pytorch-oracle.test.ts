// ELBO, its components and IWAE of tiny DCGAN VAEs (src/models/vae.ts) against PyTorch on the same weights and
// inputs (tests/fixtures/make_score_fixtures.py, references in float64):
//  - exactly, for the same fixed noise (eval, enc and both BatchNorm modes);
//  - statistically, for IWAE K = 50 and K = 5 with oodgen's own seeded noise: the mean over R oodgen draws must
//    agree with PyTorch's mean over its draws within a few standard errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tidy, liveTensors, type Tensor } from '../../src/engine/index.js';
import { loadTensors } from '../../src/io/checkpoint.js';
import { createModel } from '../../src/models/factory.js';
import type { ModelConfig } from '../../src/models/types.js';
import { elboComponents, iwaeLogLikelihood, withBnMode, IwaeDetector, scoreDataset } from '../../src/scores/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

function load(decoder: 'gaussian' | 'categorical') {
  const { tensors, metadata } = loadTensors(fixture(`scores_${decoder}.safetensors`));
  const config = JSON.parse(metadata.config!) as ModelConfig;
  const model = createModel(config);
  const state = new Map<string, Tensor>();
  for (const [k, v] of tensors) if (k.startsWith('model.')) state.set(k.slice(6), v);
  model.loadStateDict(state);
  model.eval();
  const ref = (k: string) => Array.from(tensors.get(`ref.${k}`)!.data() as Float64Array);
  return { model, tensors, ref, dispose: () => { model.dispose(); for (const t of tensors.values()) t.dispose(); } };
}

function close(actual: number[], expected: number[], tol: number, what: string) {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tol, `${what}[${i}]: oodgen ${v}, PyTorch ${expected[i]} (tol ${tol})`));
}

for (const decoder of ['gaussian', 'categorical'] as const) {
  const have = existsSync(fixture(`scores_${decoder}.safetensors`));
  // float32 vs float64: relative error ~1e-6 of values of a few hundred (gaussian) or thousand (categorical) nats.
  const tol = decoder === 'gaussian' ? 2e-3 : 1e-2;

  test(`${decoder}: ELBO components and IWAE with fixed noise equal PyTorch (BN eval, enc, both)`, { skip: !have && 'run make_score_fixtures.py' }, () => {
    const start = liveTensors();
    const f = load(decoder);
    tidy(() => {
      const x = f.tensors.get('x')!, e1 = f.tensors.get('eps_elbo')!, ek = f.tensors.get('eps_iwae')!;
      const c = withBnMode(f.model, 'eval', () => elboComponents(f.model, x, { eps: e1 }));
      close(c.reconstruction.toArray(), f.ref('rec'), tol, 'reconstruction');
      close(c.prior.toArray(), f.ref('prior'), 1e-4, 'prior');
      close(c.entropy.toArray(), f.ref('entropy'), 1e-4, 'entropy');
      close(c.elbo.toArray(), f.ref('elbo'), tol, 'elbo');
      const iw = withBnMode(f.model, 'eval', () => iwaeLogLikelihood(f.model, x, { k: 50, eps: ek, decodeBatch: 64 }));
      close(iw.logLikelihood.toArray(), f.ref('iwae'), tol, 'iwae (eval)');
      const ce = withBnMode(f.model, 'enc', () => elboComponents(f.model, x, { eps: e1 }));
      close(ce.elbo.toArray(), f.ref('elbo_enc'), tol, 'elbo (enc)');
      const ie = withBnMode(f.model, 'enc', () => iwaeLogLikelihood(f.model, x, { k: 50, eps: ek }));
      close(ie.logLikelihood.toArray(), f.ref('iwae_enc'), tol, 'iwae (enc)');
      // 'both': the decoder normalises with the statistics of all K*B codes decoded at once, as PyTorch did.
      const ib = withBnMode(f.model, 'both', () => iwaeLogLikelihood(f.model, x, { k: 50, eps: ek, decodeBatch: 50 * 6 }));
      close(ib.logLikelihood.toArray(), f.ref('iwae_both'), tol, 'iwae (both)');
    });
    f.dispose();
    assert.equal(liveTensors(), start);
  });

  test(`${decoder}: IWAE K = 50 and K = 5 with oodgen's noise agree with PyTorch within Monte-Carlo error`, { skip: !have && 'run make_score_fixtures.py' }, () => {
    const f = load(decoder);
    const x = f.tensors.get('x')!;
    const b = x.shape[0]!;
    const images = { images: x.toFloat32Array(), shape: x.shape as [number, number, number, number] };
    const R = decoder === 'gaussian' ? 30 : 6;
    const rPy = decoder === 'gaussian' ? 400 : 100;
    const start = liveTensors();
    for (const k of [50, 5]) {
      const sum = new Float64Array(b), sum2 = new Float64Array(b);
      for (let r = 0; r < R; r++) {
        const s = scoreDataset(new IwaeDetector(f.model, { k, seed: 1000 + r }), images, { batchSize: b }).columns.loglik!;
        s.forEach((v, i) => { sum[i] += v; sum2[i] += v * v; });
      }
      const mPy = f.ref(`iwae${k}_mc_mean`), sPy = f.ref(`iwae${k}_mc_std`);
      let chi = 0, varRatio = 0;
      for (let i = 0; i < b; i++) {
        const m = sum[i]! / R;
        const sd = Math.sqrt(Math.max(0, sum2[i]! / R - m * m) * R / (R - 1));
        const se = Math.sqrt((sd * sd) / R + (sPy[i]! * sPy[i]!) / rPy);
        const z = (m - mPy[i]!) / se;
        chi += z * z;
        assert.ok(Math.abs(z) < 4.5, `K=${k} image ${i}: oodgen ${m.toFixed(3)} (sd ${sd.toFixed(3)}), PyTorch ${mPy[i]!.toFixed(3)} (sd ${sPy[i]!.toFixed(3)}), z = ${z.toFixed(2)}`);
        varRatio += (sd * sd) / (sPy[i]! * sPy[i]! + 1e-12) / b;
      }
      // Joint check over the images: chi-square with b degrees of freedom, far tail.
      assert.ok(chi < 30, `K=${k}: chi^2 = ${chi.toFixed(1)} over ${b} images`);
      // Same estimator, same spread: the variance ratio averaged over the images (b * (R - 1) degrees of freedom).
      assert.ok(varRatio > 0.25 && varRatio < 4, `K=${k}: oodgen/PyTorch estimator variance ratio ${varRatio.toFixed(2)}`);
    }
    assert.equal(liveTensors(), start);
    f.dispose();
  });
}
