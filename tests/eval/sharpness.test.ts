// Sharpness measures (src/eval/sharpness.ts) against closed forms (ramps, checkerboards, cosines of known
// frequency) and NumPy's FFT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { highFrequencyEnergy, meanGradientMagnitude, sharpnessRatio, type SharpnessImages } from '../../src/eval/sharpness.js';

const PY = '/usr/bin/python3';
const hasNumpy = spawnSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

function image(h: number, w: number, f: (i: number, j: number) => number, c = 1): SharpnessImages {
  const v = new Float32Array(c * h * w);
  for (let k = 0; k < c; k++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) v[(k * h + i) * w + j] = f(i, j);
  return { images: v, shape: [1, c, h, w] };
}

test('gradient magnitude: a ramp has its slope, a checkerboard sqrt(2)', () => {
  const ramp = meanGradientMagnitude(image(8, 10, (i, j) => 0.02 * i + 0.01 * j, 3));
  assert.ok(Math.abs(ramp - Math.hypot(0.01, 0.02)) < 1e-7, `${ramp}`);
  const cb = meanGradientMagnitude(image(6, 6, (i, j) => (i + j) % 2));
  assert.ok(Math.abs(cb - Math.SQRT2) < 1e-12);
  // uint8 input is scaled by 1/255
  const u8: SharpnessImages = { images: Uint8Array.from([0, 255, 255, 0]), shape: [1, 1, 2, 2] };
  assert.ok(Math.abs(meanGradientMagnitude(u8) - Math.SQRT2) < 1e-12);
});

test('high-frequency energy: cosines below and above the cutoff, and a mix in closed form', () => {
  const n = 16;
  const low = image(n, n, (_i, j) => Math.cos((2 * Math.PI * 3 * j) / n)); // 3/16 cycles/pixel
  const high = image(n, n, (i) => Math.cos((2 * Math.PI * 6 * i) / n)); // 6/16
  assert.ok(highFrequencyEnergy(low) < 1e-12);
  assert.ok(Math.abs(highFrequencyEnergy(high) - 1) < 1e-12);
  // a cos(low) + b cos(high): power a^2 : b^2
  const a = 0.3, b = 0.1;
  const mix = image(n, n, (i, j) => 0.5 + a * Math.cos((2 * Math.PI * 3 * j) / n) + b * Math.cos((2 * Math.PI * 5 * (i + j)) / n));
  const want = (b * b) / (a * a + b * b);
  assert.ok(Math.abs(highFrequencyEnergy(mix) - want) < 1e-7, // float32 pixels
    `${highFrequencyEnergy(mix)} vs ${want}`);
  assert.equal(highFrequencyEnergy(image(4, 4, () => 0.7)), 0, 'a flat image has no power');
});

test('high-frequency energy equals NumPy\'s FFT on a random image', { skip: !hasNumpy && 'needs /usr/bin/python3 with numpy' }, () => {
  const h = 12, w = 10;
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const img = image(h, w, () => rnd(), 2);
  const py = `
import json, sys, numpy as np
v = np.array(json.loads(sys.stdin.read()), dtype=np.float64).reshape(2, ${h}, ${w})
fy = np.fft.fftfreq(${h})[:, None]; fx = np.fft.fftfreq(${w})[None, :]
hi = np.hypot(fy, fx) > 0.25
out = []
for p in v:
    P = np.abs(np.fft.fft2(p - p.mean())) ** 2
    out.append(P[hi].sum() / P.sum())
print(json.dumps(float(np.mean(out))))`;
  const r = spawnSync(PY, ['-c', py], { input: JSON.stringify(Array.from(img.images)), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ref = JSON.parse(r.stdout) as number;
  assert.ok(Math.abs(highFrequencyEnergy(img) - ref) < 1e-9, `${highFrequencyEnergy(img)} vs NumPy ${ref}`);
});

test('blurring lowers both measures; ratios against the sharp originals are below 1', () => {
  const n = 16;
  let s = 3;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const sharp = image(n, n, () => rnd());
  const v = sharp.images as Float32Array;
  const blurred = image(n, n, (i, j) => {
    let t = 0, k = 0;
    for (let di = -1; di <= 1; di++) for (let dj = -1; dj <= 1; dj++) {
      const a = i + di, b = j + dj;
      if (a >= 0 && a < n && b >= 0 && b < n) { t += v[a * n + b]!; k++; }
    }
    return t / k;
  });
  const r = sharpnessRatio(blurred, sharp);
  assert.ok(r.gradientRatio < 0.3 && r.hfRatio < 0.5, JSON.stringify(r));
});

test('bad input is refused with a message naming the problem', () => {
  assert.throws(() => meanGradientMagnitude({ images: new Float32Array(3), shape: [1, 1, 2, 2] }), /3 values for shape \[1, 1, 2, 2\]/);
  assert.throws(() => highFrequencyEnergy({ images: new Float32Array(2), shape: [1, 1, 1, 2] }), /at least 2x2/);
  assert.throws(() => highFrequencyEnergy(image(4, 4, () => 0), 0.9), /cutoff/);
});
