// The discretized Gaussian likelihood of 8-bit images (src/models/discretized-gaussian.ts) against a 60-digit mpmath
// oracle (tests/fixtures/discretized_gaussian.py), and its closed-form property: the 256 level probabilities of a
// pixel sum to one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tensor, tidy, liveTensors, Generator, rand } from '../../src/engine/index.js';
import { discretizedGaussianLogLik } from '../../src/models/discretized-gaussian.js';

const PY = '/usr/bin/python3';
const script = fileURLToPath(new URL('../fixtures/discretized_gaussian.py', import.meta.url));
const hasMpmath = spawnSync(PY, ['-c', 'import mpmath'], { encoding: 'utf8' }).status === 0;

function oracle(levels: number[][], mu: number[][], sigma: number[][]): number[] {
  const r = spawnSync(PY, [script], { input: JSON.stringify({ levels, mu, sigma }), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as number[];
}

test('discretized Gaussian log P(x | z) equals the mpmath oracle (per-channel sigma, edge levels, far tails)', { skip: !hasMpmath && 'python3 mpmath is not installed' }, () => {
  const start = liveTensors();
  const B = 3, C = 3, H = 2, W = 3;
  const D = C * H * W;
  // Levels: the two edge bins, the middle, and random ones; means inside and outside [0, 1]; per-channel sigmas from
  // very narrow (far tails: log P ~ -1e5) to wide.
  const g = Generator.cpu(7);
  const levels = tidy(() => rand([B, C, H, W], { generator: g }).toArray().map((u) => Math.floor(u * 256)));
  levels[0] = 0; levels[1] = 255; levels[2] = 128; levels[D] = 0; levels[D + 1] = 255;
  const mu = tidy(() => rand([B, C, H, W], { generator: g }).toArray().map((u) => u * 1.4 - 0.2));
  mu[D] = 0.999; mu[D + 1] = 0.001; // edge levels far from their mean
  const logSigma2 = [Math.log(0.003 ** 2), Math.log(0.08 ** 2), Math.log(0.7 ** 2)];
  const sigmaOf = (i: number) => Math.exp(0.5 * logSigma2[Math.floor(i / (H * W)) % C]!);

  const got = tidy(() => {
    const x = tensor(levels.map((k) => k / 255), [B, C, H, W]);
    return discretizedGaussianLogLik(x, tensor(mu, [B, C, H, W]), tensor(logSigma2, [C])).toArray();
  });
  const per = (a: number[]) => Array.from({ length: B }, (_, b) => a.slice(b * D, (b + 1) * D));
  const want = oracle(per(levels), per(mu), per(levels.map((_, i) => sigmaOf(i))));
  for (let b = 0; b < B; b++) {
    // float32 output: relative 1e-6 of values up to ~1e5 nats.
    assert.ok(Math.abs(got[b]! - want[b]!) <= 1e-6 * Math.abs(want[b]!) + 1e-4, `sample ${b}: ${got[b]} vs ${want[b]}`);
  }

  // A fixed (scalar) variance gives the same as a per-channel tensor holding that value.
  const [fixed, perChannel] = tidy(() => {
    const x = tensor(levels.map((k) => k / 255), [B, C, H, W]);
    const m = tensor(mu, [B, C, H, W]);
    return [discretizedGaussianLogLik(x, m, Math.log(0.05)).toArray(), discretizedGaussianLogLik(x, m, tensor([Math.log(0.05), Math.log(0.05), Math.log(0.05)], [C])).toArray()];
  });
  fixed.forEach((v, i) => assert.ok(Math.abs(v - perChannel[i]!) < 1e-3, `fixed vs per-channel ${v} ${perChannel[i]}`));
  assert.equal(liveTensors(), start);
});

test('the 256 level probabilities of a pixel sum to one, and off-grid inputs are quantized', () => {
  const start = liveTensors();
  for (const [m, s] of [[0.5, 0.1], [0.01, 0.02], [1.3, 0.3], [0.2, 2.0]] as const) {
    const total = tidy(() => {
      const x = tensor(Array.from({ length: 256 }, (_, k) => k / 255), [256, 1, 1, 1]);
      const lp = discretizedGaussianLogLik(x, tensor(new Array(256).fill(m), [256, 1, 1, 1]), Math.log(s * s)).toArray();
      return lp.reduce((acc, v) => acc + Math.exp(v), 0);
    });
    assert.ok(Math.abs(total - 1) < 1e-5, `mu ${m} sigma ${s}: sum ${total}`);
  }
  const [onGrid, offGrid] = tidy(() => {
    const mu = tensor([0.4], [1, 1, 1, 1]);
    return [discretizedGaussianLogLik(tensor([100 / 255], [1, 1, 1, 1]), mu, -3).toArray()[0]!,
      discretizedGaussianLogLik(tensor([100.3 / 255], [1, 1, 1, 1]), mu, -3).toArray()[0]!];
  });
  assert.equal(offGrid, onGrid);
  assert.equal(liveTensors(), start);
});
