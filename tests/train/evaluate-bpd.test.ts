// Training evaluation's bits/dim (issue 11 items 3 and 4): -ELBO8 / (D ln 2) with log P(x8 | z) of the 8-bit image
// (discretized Gaussian), on the images as stored; a NaN ELBO is an error naming the set and the image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensors, tidy, noGrad, Generator, fill_, mean } from '../../src/engine/index.js';
import { OodgenError } from '../../src/errors.js';
import type { ImageSet } from '../../src/data/types.js';
import { createModel } from '../../src/models/factory.js';
import { discretizedGaussianLogLik } from '../../src/models/discretized-gaussian.js';
import { klStdNormal } from '../../src/models/likelihoods.js';
import { reparameterize, type VAE } from '../../src/models/vae.js';
import { evaluateElbo, batchTensor } from '../../src/train/evaluate.js';
import { dequantizeTensor } from '../../src/data/batches.js';

function tinySet(n: number): ImageSet {
  const images = new Float32Array(n * 32 * 32);
  for (let i = 0; i < images.length; i++) images[i] = ((i * 7919) % 256) / 255;
  return { images, shape: [n, 1, 32, 32], name: 'tiny:val', source: 'test' };
}

test('evaluateElbo bits/dim of a Gaussian VAE: the ELBO with the discretized Gaussian of the stored 8-bit images', () => {
  const start = liveTensors();
  const m = createModel<VAE>({ kind: 'vae', decoder: 'gaussian', sigma2: 0.05, channels: 1, imageSize: 32, zDim: 3, width: 4 }, { generator: Generator.cpu(2) });
  const set = tinySet(6);
  const r = evaluateElbo(m, set, { batchSize: 6, seed: 10, dequantize: true });
  // Oracle: the same posterior sample (the bits/dim pass draws from a generator seeded seed + 1), written out.
  m.eval();
  const want = tidy(() => noGrad(() => {
    const x = batchTensor(set, Int32Array.from([0, 1, 2, 3, 4, 5]), 'cpu');
    const { mu, logvar } = m.encode(x);
    const z = reparameterize(mu, logvar!, Generator.cpu(11));
    const elbo8 = discretizedGaussianLogLik(x, m.decode(z), Math.log(0.05)).sub(klStdNormal(mu, logvar!));
    return mean(elbo8).item();
  }));
  m.train();
  assert.ok(Math.abs(r.imageElbo! - want) < 1e-3 * Math.abs(want), `ELBO8 ${r.imageElbo} vs ${want}`);
  assert.ok(Math.abs(r.bitsPerDim! - -want / (1024 * Math.LN2)) < 1e-4, `bits/dim ${r.bitsPerDim}`);
  assert.match(r.bitsPerDimNote, /discretized Gaussian/);
  // Not the old density + 8 definition.
  assert.ok(Math.abs(r.bitsPerDim! - (8 - r.elbo / (1024 * Math.LN2))) > 1e-2);
  m.dispose();
  assert.equal(liveTensors(), start);
});

test('evaluateElbo: a NaN weight gives an error naming the set and the image, not "ELBO NaN"', () => {
  const start = liveTensors();
  const m = createModel<VAE>({ kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 3, width: 4 }, { generator: Generator.cpu(2) });
  tidy(() => noGrad(() => { fill_(m.parameters()[0]!, NaN); }));
  assert.throws(() => evaluateElbo(m, tinySet(4), { batchSize: 2 }),
    (e: Error) => e instanceof OodgenError && /^tiny:val: the ELBO of image 0 is NaN/.test(e.message));
  // A NaN pixel in one image: the error names that image by its index in the set (limit 4 of 8: images 0, 2, 4, 6).
  const good = createModel<VAE>({ kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 3, width: 4 }, { generator: Generator.cpu(2) });
  const set = tinySet(8);
  set.images[6 * 1024 + 17] = NaN;
  assert.throws(() => evaluateElbo(good, set, { batchSize: 3, limit: 4 }),
    (e: Error) => e instanceof OodgenError && /^tiny:val: the ELBO of image 6 is NaN/.test(e.message));
  set.images[6 * 1024 + 17] = 0.5;
  assert.ok(Number.isFinite(evaluateElbo(good, set, { batchSize: 3, limit: 4 }).elbo));
  good.dispose();
  m.dispose();
  assert.equal(liveTensors(), start);
});

test('evaluateElbo bits/dim of a Glow: its training loss on the same dequantized images, -(log p - D log 256) / (D ln 2); none without dequantization', () => {
  const start = liveTensors();
  const m = createModel({ kind: 'glow', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 1, width: 8, flow: { levels: 2, steps: 1, width: 8, lu: true } }, { generator: Generator.cpu(5) });
  const set = tinySet(4);
  const r = evaluateElbo(m, set, { batchSize: 4, seed: 3, dequantize: true });
  // Oracle: the model's own per-image bits/dim of the same dequantized batch (evaluateElbo's noise: Generator seed 3).
  m.eval();
  const want = tidy(() => noGrad(() => {
    const x = batchTensor(set, Int32Array.from([0, 1, 2, 3]), 'cpu');
    const g = Generator.cpu(3);
    const deq = dequantizeTensor(x, g);
    return mean((m as unknown as { bitsPerDim(x: typeof deq): typeof deq }).bitsPerDim(deq)).item();
  }));
  m.train();
  assert.ok(Number.isFinite(r.bitsPerDim!), `bits/dim ${r.bitsPerDim}`);
  assert.ok(Math.abs(r.bitsPerDim! - (-(r.elbo - 1024 * Math.log(256)) / (1024 * Math.LN2))) < 1e-9);
  assert.ok(Math.abs(r.bitsPerDim! - want) < 1e-4, `bits/dim ${r.bitsPerDim} vs the model's ${want}`);
  assert.match(r.bitsPerDimNote, /dequantized/);
  assert.equal(evaluateElbo(m, set, { batchSize: 4, dequantize: false }).bitsPerDim, null, 'a density at the stored levels is no bound on the 8-bit bits/dim');
  m.dispose();
  assert.equal(liveTensors(), start);
});
