// Input complexity (Serra et al. 2020): the compressed lengths are real lossless files of the 8-bit image, and
// S = -log2 p / D - L / D is in bits per dimension on both sides (a closed-form check that catches nats vs bits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { compressedBits, compressImage, inputComplexityScore, parseCompressor } from '../../src/scores/input-complexity.js';
import { OodgenError } from '../../src/errors.js';

function images(): { x: Float32Array; shape: [number, number, number, number] } {
  // Image 0 constant gray, image 1 uniform noise (seeded LCG), image 2 a smooth gradient; 1 channel, 28x28.
  const d = 28 * 28, x = new Float32Array(3 * d);
  let s = 12345;
  for (let p = 0; p < d; p++) {
    x[p] = 128 / 255;
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[d + p] = (s >>> 24) / 255;
    x[2 * d + p] = Math.round((p % 28) * 255 / 27) / 255;
  }
  return { x, shape: [3, 1, 28, 28] };
}

for (const compressor of ['png', 'webp'] as const) {
  test(`${compressor}: L(x) is 8 x the bytes of a lossless file of the 8-bit image; noise > gradient > constant`, async () => {
    const { x, shape } = images();
    const bits = await compressedBits(x, shape, compressor);
    for (let i = 0; i < 3; i++) {
      const raw = Buffer.from(Array.from(x.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255)));
      const file = await compressImage(raw, 1, 28, 28, compressor);
      assert.equal(bits[i], 8 * file.length);
      const back = await sharp(file).extractChannel(0).raw().toBuffer();
      assert.deepEqual([...back], [...raw], `image ${i} decodes to itself (lossless)`);
    }
    assert.ok(bits[1]! > bits[2]! && bits[2]! > bits[0]!, `lengths ${[...bits]}`);
    // Uniform noise is incompressible: at least ~7.5 of its 8 bits per pixel survive any lossless coder.
    assert.ok(bits[1]! / 784 > 7.5, `noise ${bits[1]! / 784} bits/dim`);
  });
}

test('S = -log2 P(x8)/D - L/D, both in bits (log P(x8) in nats of the 8-bit image)', () => {
  const D = 784;
  const ll = [-1000, -5000], bits = [3000, 6000];
  const r = inputComplexityScore(ll, bits, D);
  for (let i = 0; i < 2; i++) {
    const bpd = -ll[i]! / (D * Math.log(2));
    assert.ok(Math.abs(r.bpd[i]! - bpd) < 1e-5);
    assert.ok(Math.abs(r.score[i]! - (bpd - bits[i]! / D)) < 1e-5);
    assert.ok(Math.abs(r.complexity[i]! - bits[i]! / D) < 1e-6);
  }
  assert.throws(() => inputComplexityScore([1], [1, 2], D), /1 log-likelihoods but 2/);
  assert.throws(() => parseCompressor('zip'), OodgenError);
});

test('bad input is refused with the shape', async () => {
  await assert.rejects(compressedBits(new Float32Array(10), [1, 1, 28, 28], 'png'), /10 values do not match shape 1x1x28x28/);
  await assert.rejects(compressedBits(new Float32Array(2 * 4), [1, 2, 2, 2], 'png'), /1 or 3 channels, got 2/);
});
