// Glow's invertible layers (src/models/flow-layers.ts, src/models/glow.ts) against closed forms that do not use
// their code: f^-1(f(x)) = x, and each layer's log-determinant against log|det J| of the Jacobian built row by row
// with the engine's autograd and reduced by a Gaussian elimination written here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator, tidy, noGrad, liveTensors, randn, zeros, backward, gradsOf, clearGrads, type Tensor, sub, abs, max, mean, variance,
  fromTypedArray, mul, add,
} from '../../src/engine/index.js';
import { uniformInit } from '../../src/nn/init.js';
import type { Module } from '../../src/nn/module.js';
import {
  ActNorm, AffineCoupling, FlowStep, InvConv2d, InvConv2dLU, squeeze2d, unsqueeze2d, luDecompose, type FlowLayer,
} from '../../src/models/flow-layers.js';
import { GlowFlow } from '../../src/models/glow.js';

/** Fills every parameter with U(-a, a) so zero-initialised couplings are not the identity. */
function randomise(m: Module, seed: number, a = 0.3): void {
  const g = Generator.cpu(seed);
  for (const p of m.parameters()) uniformInit(p, a, g);
}

/** log|det A| of a row-major n x n matrix by Gaussian elimination with partial pivoting, in float64. */
function logAbsDetOracle(a: Float64Array, n: number): number {
  const m = Float64Array.from(a);
  let s = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]!) > Math.abs(m[p * n + k]!)) p = i;
    if (p !== k) for (let j = 0; j < n; j++) [m[k * n + j], m[p * n + j]] = [m[p * n + j]!, m[k * n + j]!];
    const d = m[k * n + k]!;
    s += Math.log(Math.abs(d));
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k]! / d;
      for (let j = k; j < n; j++) m[i * n + j] = m[i * n + j]! - f * m[k * n + j]!;
    }
  }
  return s;
}

/** The Jacobian dy/dx (D x D, row i = grad of y_i) of f at one input x (1, C, H, W), by autograd. */
function jacobian(f: (x: Tensor) => Tensor, x0: Tensor): Float64Array {
  return tidy(() => {
    const x = x0.clone().detach().requiresGrad_(true);
    const y = f(x);
    const d = x.numel;
    assert.equal(y.numel, d, 'a bijection keeps the dimension');
    const jac = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      tidy(() => {
        const onehot = new Float32Array(d);
        onehot[i] = 1;
        const grad = fromTypedArray(onehot, y.shape);
        backward([y], [grad], true);
        const gx = gradsOf([x])[0]!.toFloat32Array();
        for (let j = 0; j < d; j++) jac[i * d + j] = gx[j]!;
        clearGrads([x]);
      });
    }
    return jac;
  });
}

function checkLayer(name: string, layer: FlowLayer, shape: number[], seed: number): void {
  tidy(() => {
    const x = randn(shape, { generator: Generator.cpu(seed) });
    // Inverse exactness on a batch.
    const xb = randn([3, ...shape.slice(1)], { generator: Generator.cpu(seed + 1) });
    const back = noGrad(() => layer.reverse(layer.forwardFlow(xb).y));
    const err = max(abs(sub(back, xb))).item();
    assert.ok(err < 1e-4, `${name}: max |f^-1(f(x)) - x| = ${err}`);
    // Log-determinant against the autograd Jacobian.
    const ld = noGrad(() => layer.forwardFlow(x).logdet).toArray();
    assert.equal(ld.length, 1);
    const d = x.numel;
    const jac = jacobian((t) => layer.forwardFlow(t).y, x);
    const ref = logAbsDetOracle(jac, d);
    assert.ok(Math.abs(ld[0]! - ref) < 2e-3 * Math.max(1, Math.abs(ref)), `${name}: logdet ${ld[0]} vs log|det J| ${ref}`);
  });
}

test('each flow layer inverts exactly and its log-determinant equals log|det| of the autograd Jacobian', () => {
  const start = liveTensors();
  const shape = [1, 4, 2, 3]; // D = 24
  const an = new ActNorm(4);
  randomise(an, 1);
  an.eval();
  checkLayer('actnorm', an, shape, 10);
  const ic = new InvConv2d(4, { generator: Generator.cpu(2) });
  checkLayer('invconv', ic, shape, 11);
  const lu = new InvConv2dLU(4, { generator: Generator.cpu(3) });
  randomise(lu, 3, 0.5);
  checkLayer('invconv LU', lu, shape, 12);
  const cp = new AffineCoupling(4, 8, { generator: Generator.cpu(4) });
  randomise(cp, 4);
  checkLayer('affine coupling', cp, shape, 13);
  const odd = new AffineCoupling(5, 8, { generator: Generator.cpu(5) });
  randomise(odd, 5);
  checkLayer('affine coupling, 5 channels', odd, [1, 5, 2, 2], 14);
  const st = new FlowStep(4, 8, { lu: true, generator: Generator.cpu(6) });
  randomise(st, 6);
  st.eval();
  checkLayer('flow step', st, shape, 15);
  for (const m of [an, ic, lu, cp, odd, st]) m.dispose();
  assert.equal(liveTensors(), start);
});

test('squeeze is a permutation (unit Jacobian) and unsqueeze inverts it', () => {
  tidy(() => {
    const x = randn([2, 3, 4, 6], { generator: Generator.cpu(7) });
    const s = squeeze2d(x);
    assert.deepEqual(s.shape, [2, 12, 2, 3]);
    assert.equal(max(abs(sub(unsqueeze2d(s), x))).item(), 0);
    // channel c*4 + 2*dy + dx at (i, j) holds x[c, 2i + dy, 2j + dx]
    const xv = x.toFloat32Array(), sv = s.toFloat32Array();
    assert.equal(sv[((0 * 12 + (1 * 4 + 2 * 1 + 0)) * 2 + 1) * 3 + 2], xv[((0 * 3 + 1) * 4 + (2 * 1 + 1)) * 6 + (2 * 2 + 0)]);
  });
});

test('LU decomposition: P L U reproduces the matrix', () => {
  const n = 5;
  const a = Float64Array.from({ length: n * n }, (_, i) => Math.sin(i * 1.7) + (i % (n + 1) === 0 ? 2 : 0));
  const { p, l, u } = luDecompose(a, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let v = 0;
      for (let k = 0; k < n; k++) for (let m = 0; m < n; m++) v += p[i * n + k]! * l[k * n + m]! * u[m * n + j]!;
      assert.ok(Math.abs(v - a[i * n + j]!) < 1e-12, `(${i},${j})`);
    }
  }
});

test('actnorm data-dependent initialisation: zero mean, unit variance per channel on the first batch', () => {
  tidy(() => {
    const an = new ActNorm(3);
    const x = mul3(randn([16, 3, 4, 4], { generator: Generator.cpu(8) }));
    const y = noGrad(() => an.forwardFlow(x).y);
    assert.ok(an.isInitialized);
    const m = mean(y, [0, 2, 3]).toArray(), v = variance(y, [0, 2, 3], false, false).toArray();
    m.forEach((q) => assert.ok(Math.abs(q) < 1e-5, `mean ${q}`));
    v.forEach((q) => assert.ok(Math.abs(q - 1) < 1e-4, `var ${q}`));
    // A second batch does not re-initialise.
    const before = an.logs.toArray();
    noGrad(() => an.forwardFlow(randn([4, 3, 4, 4], { generator: Generator.cpu(9) })));
    assert.deepEqual(an.logs.toArray(), before);
    an.dispose();
  });
});

const mul3 = (x: Tensor): Tensor => add(mul(x, 3), 2);

test('GlowFlow: encode then reverse with the same latents returns the input; temperature-0 samples are the prior means', () => {
  const start = liveTensors();
  const flow = new GlowFlow({ shape: [1, 8, 8], levels: 2, steps: 2, width: 8, lu: true, generator: Generator.cpu(10) });
  randomise(flow, 11, 0.2);
  tidy(() => noGrad(() => {
    flow.eval();
    const y = randn([3, 1, 8, 8], { generator: Generator.cpu(12) });
    const { zs, logdet, logpz } = flow.encode(y);
    assert.deepEqual(zs.map((z) => z.shape), [[3, 2, 4, 4], [3, 8, 2, 2]]);
    assert.deepEqual(flow.latentShapes, [[2, 4, 4], [8, 2, 2]]);
    const back = flow.reverse({ zs });
    assert.ok(max(abs(sub(back, y))).item() < 1e-4);
    assert.deepEqual(add(logdet, logpz).shape, [3]);
    const s0 = flow.reverse({ n: 2, temperature: 0, generator: Generator.cpu(13) });
    const s1 = flow.reverse({ n: 2, temperature: 0, generator: Generator.cpu(14) });
    assert.equal(max(abs(sub(s0, s1))).item(), 0, 'T = 0 ignores the noise');
  }));
  flow.dispose();
  assert.equal(liveTensors(), start);
});

test('GlowFlow refuses inputs of the wrong shape and bad sampling requests with messages that name them', () => {
  const flow = new GlowFlow({ shape: [1, 8, 8], levels: 2, steps: 1, width: 4 });
  tidy(() => {
    assert.throws(() => flow.encode(randn([2, 3, 8, 8])), /input has shape \[2, 3, 8, 8\], the flow takes \[B, 1, 8, 8\]/);
    assert.throws(() => flow.reverse({ n: 0 }), /positive integer, got 0/);
    assert.throws(() => flow.reverse({ n: 2, temperature: -1 }), /temperature must be >= 0/);
  });
  assert.throws(() => new GlowFlow({ shape: [1, 28, 28], levels: 3, steps: 1, width: 4 }), /multiples of 8/);
  flow.dispose();
});
