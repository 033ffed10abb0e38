// Glow's two guards against a diverging run (the Fashion-MNIST background Glow, --mutate 0.2, went from 5.8 bits/dim
// to 1.5e10 on one batch and then to an infinite loss): the coupling's log-determinant through log_sigmoid stays
// finite where sigmoid underflows (closed form), and --max-grad-norm clips the gradient before Adam's step (against a
// hand-written clip-then-Adam loop on an identical model, and shown to change the result).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, tidy, noGrad, liveTensors, rand, fill_, gradsOf, norm, stack, type Tensor } from '../../src/engine/index.js';
import { clipGradNorm } from '../../src/engine/autograd.js';
import { Adam } from '../../src/optim/index.js';
import { AffineCoupling, ZeroConv2d } from '../../src/models/flow-layers.js';
import { createGlow, type GlowConfig } from '../../src/models/glow.js';
import { parseTrainOptions } from '../../src/cli/train-options.js';
import { OodgenError } from '../../src/errors.js';

const tinyGlow = (): GlowConfig => ({
  kind: 'glow', decoder: 'gaussian', channels: 1, imageSize: 8 as 32, zDim: 64, width: 8, flow: { levels: 2, steps: 2, width: 8, lu: true },
}) as GlowConfig;

test('affine coupling: log|det| stays finite (log_sigmoid) when the scale pre-activation underflows sigmoid', () => {
  const start = liveTensors();
  const c = new AffineCoupling(4, 8, { generator: Generator.cpu(1) });
  const last = c.net.children().map(([, m]) => m).find((m): m is ZeroConv2d => m instanceof ZeroConv2d)!;
  // Zero weights: the network's output is its bias. Scale half (channels cb..2cb) at s~ = -200, so s~ + 2 = -198:
  // float32 sigmoid(-198) is 0, log(0) = -inf, while log_sigmoid(-198) = -198 - log1p(exp(-198)) = -198.
  noGrad(() => fill_(last.bias, -200));
  tidy(() => {
    const x = rand([3, 4, 2, 2], { generator: Generator.cpu(2) });
    const { y, logdet } = c.forwardFlow(x);
    const ld = Array.from(logdet.toFloat32Array());
    // Per sample: cb * H * W = 2 * 2 * 2 = 8 elements of -198.
    for (const v of ld) assert.ok(Math.abs(v - -198 * 8) < 1e-3, `logdet ${v}, expected ${-198 * 8}`);
    assert.ok(y.toFloat32Array().every(Number.isFinite));
  });
  c.dispose();
  assert.equal(liveTensors(), start);
});

test('--max-grad-norm: the Glow trainer clips the global gradient norm before each Adam step', () => {
  const start = liveTensors();
  const batch = (i: number): Tensor => rand([6, 1, 8, 8], { generator: Generator.cpu(100 + i) });
  const maxNorm = 0.05;
  // A: the family's trainer with the clip; B: a hand-written loop (backward, clip to maxNorm, Adam); C: no clip.
  const a = createGlow(tinyGlow(), { generator: Generator.cpu(7) });
  const b = createGlow(tinyGlow(), { generator: Generator.cpu(7) });
  const c = createGlow(tinyGlow(), { generator: Generator.cpu(7) });
  const ta = a.createTrainer({ lr: 1e-2, betas: [0.9, 0.999], hyper: { maxGradNorm: maxNorm } });
  const tc = c.createTrainer({ lr: 1e-2, betas: [0.9, 0.999], hyper: { maxGradNorm: 0 } });
  const optB = new Adam(b.parameters(), { lr: 1e-2, betas: [0.9, 0.999] });
  const norms: number[] = [];
  for (let i = 0; i < 4; i++) {
    const ra = tidy(() => ta.step(batch(i), Generator.cpu(0)));
    tidy(() => tc.step(batch(i), Generator.cpu(0)));
    const nb = tidy(() => {
      optB.zeroGrad();
      const { loss } = b.loss(batch(i));
      loss.backward();
      const n = norm(stack(gradsOf(b.parameters()).filter((g): g is Tensor => g !== null).map((g) => norm(g)))).item();
      clipGradNorm(b.parameters(), maxNorm);
      optB.step();
      optB.zeroGrad();
      return n;
    });
    assert.ok(typeof ra.gradNorm === 'number' && Math.abs(ra.gradNorm - nb) <= 1e-4 * nb, `step ${i}: logged norm ${ra.gradNorm} vs ${nb}`);
    norms.push(nb);
  }
  assert.ok(norms.every((n) => n > maxNorm), `every step was clipped: ${norms.join(', ')}`);
  const flat = (m: ReturnType<typeof createGlow>) => m.parameters().flatMap((p) => Array.from(p.toFloat32Array()));
  const pa = flat(a), pb = flat(b), pc = flat(c);
  const diff = (u: number[], v: number[]) => u.reduce((w, x, i) => Math.max(w, Math.abs(x - v[i]!)), 0);
  assert.ok(diff(pa, pb) < 1e-6, `trainer vs clip-then-Adam: ${diff(pa, pb)}`);
  assert.ok(diff(pa, pc) > 1e-4, `the clip changed nothing: ${diff(pa, pc)}`);
  for (const t of [ta, tc]) t.dispose();
  optB.dispose();
  for (const m of [a, b, c]) m.dispose();
  assert.equal(liveTensors(), start);
});

test('--max-grad-norm is a Glow training option: parsed into hyper, refused for other families and below 0', async () => {
  const o = await parseTrainOptions({ model: 'glow', data: 'fashion-mnist:train', out: 'x', maxSteps: '10', maxGradNorm: '50' }, ['node', 'oodgen']);
  assert.deepEqual(o.hyper, { maxGradNorm: 50 });
  const d = await parseTrainOptions({ model: 'glow', data: 'fashion-mnist:train', out: 'x', maxSteps: '10' }, ['node', 'oodgen']);
  assert.deepEqual(d.hyper, { maxGradNorm: 0 });
  await assert.rejects(parseTrainOptions({ model: 'vae', data: 'fashion-mnist:train', out: 'x', epochs: '1', maxGradNorm: '50' }, ['node', 'oodgen']),
    (e: Error) => e instanceof OodgenError && /--max-grad-norm/.test(e.message) && /glow/.test(e.message));
  await assert.rejects(parseTrainOptions({ model: 'glow', data: 'fashion-mnist:train', out: 'x', maxSteps: '10', maxGradNorm: '-1' }, ['node', 'oodgen']),
    (e: Error) => e instanceof OodgenError && /--max-grad-norm must be >= 0/.test(e.message));
  await assert.rejects(parseTrainOptions({ out: 'x', resume: true, maxGradNorm: '50' }, ['node', 'oodgen']),
    (e: Error) => e instanceof OodgenError && /--resume/.test(e.message) && /--max-grad-norm/.test(e.message));
});
