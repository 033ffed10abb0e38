// The GPU training path on the CPU (issue 15, item 5): what can be checked without a GPU. The resident training set
// gives the host path's batches and weights bit for bit; channels_last trains like the default layout within float
// tolerance and writes ordinary checkpoints; bf16 autocast really runs the convolutions in bf16 and stays close to
// float32; capturable Adam equals Adam; --cuda-graph is refused clearly on the CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  liveTensors, tidy, noGrad, Generator, isChannelsLast, toMemoryFormat, randn, autocast, CudaGraph, buildInfo, cuda,
} from '../../src/engine/index.js';
import { dequantizeTensor, imageBatch, ResidentImages } from '../../src/data/batches.js';
import { GraphedStep, type GraphLike } from '../../src/train/graphed-step.js';
import { copy_ } from '../../src/engine/ops/index.js';
import type { Tensor } from '../../src/engine/tensor.js';
import type { ImageSet } from '../../src/data/types.js';
import { train, type TrainOptions } from '../../src/train/trainer.js';
import { readRunConfig } from '../../src/train/run.js';
import { loadTensors, loadStateDict } from '../../src/io/checkpoint.js';
import { createModel } from '../../src/models/factory.js';
import type { VAE } from '../../src/models/vae.js';
import { Adam } from '../../src/optim/adam.js';
import { OodgenError } from '../../src/errors.js';
import { parseTrainOptions } from '../../src/cli/train.js';
import { checkLaunchDevice, rankDevice } from '../../src/engine/distributed.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = (): string => tempDir('gpu-path');

/** n 8-bit images, deterministic; as uint8 or as the float32 k/255 the loaders make. */
function tinySet(n: number, asFloat: boolean): ImageSet {
  const u8 = new Uint8Array(n * 32 * 32);
  let q = 11;
  for (let i = 0; i < u8.length; i++) {
    q = (q * 1103515245 + 12345) % 2147483648;
    u8[i] = (Math.floor(i / 1024) % 4) * 50 + Math.floor((q / 2147483648) * 60);
  }
  u8[0] = 255; u8[1] = 0; // both ends of the range
  const images = asFloat ? Float32Array.from(u8, (v) => v / 255) : u8;
  return { images, shape: [n, 1, 32, 32], name: 'tiny:train', source: 'test' };
}

function weights(path: string): Map<string, Float32Array> {
  const { tensors } = loadTensors(path);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of tensors) { out.set(k, t.toFloat32Array()); t.dispose(); }
  return out;
}

function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let md = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) md = Math.max(md, Math.abs(x[i]! - y[i]!));
  }
  return md;
}

const base = (out: string, trainSet: ImageSet, kind: 'vae' | 'sintro' = 'vae'): TrainOptions => ({
  out, model: { kind, decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 4, width: 8 }, trainSet,
  batchSize: 8, valFraction: 0, progress: 'none', checkpointEvery: 1000, grids: false, seed: 5, maxSteps: 6,
});

test('resident images give the host batches bit for bit (uint8 and float32 sets)', () => {
  const start = liveTensors();
  for (const asFloat of [false, true]) {
    const set = tinySet(12, asFloat);
    const r = new ResidentImages(set, 'cpu');
    const index = Int32Array.from([0, 11, 3, 3, 7]);
    const a = r.batch(index), b = imageBatch(set, index, 'cpu');
    assert.deepEqual(a.shape, [5, 1, 32, 32]);
    assert.equal(a.dtype, 'float32');
    assert.deepEqual(a.toFloat32Array(), b.toFloat32Array(), asFloat ? 'float32 set' : 'uint8 set');
    assert.equal(r.bytes, asFloat ? 12 * 1024 * 4 : 12 * 1024);
    assert.throws(() => r.batch(Int32Array.from([12])), /batch index 12 outside 0..11/);
    a.dispose(); b.dispose(); r.dispose();
  }
  assert.equal(liveTensors(), start);
});

test('training from the resident set ends with the same weights as from host batches (vae and sintro, dequantized)', async () => {
  const dir = tmp();
  const start = liveTensors();
  try {
    for (const kind of ['vae', 'sintro'] as const) {
      const set = tinySet(24, false);
      await train({ ...base(join(dir, `${kind}-host`), set, kind), residentData: false });
      await train({ ...base(join(dir, `${kind}-res`), set, kind), residentData: true });
      assert.equal(readRunConfig(join(dir, `${kind}-res`)).training.speed?.residentData, true);
      assert.equal(readRunConfig(join(dir, `${kind}-host`)).training.speed?.residentData, false);
      // Bit-identical: same batches, same noise stream, same kernels.
      assert.equal(maxDiff(weights(join(dir, `${kind}-host`, 'model.safetensors')), weights(join(dir, `${kind}-res`, 'model.safetensors'))), 0, kind);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(liveTensors(), start);
});

test('Module.toMemoryFormat lays conv weights out channels_last in place, values unchanged', () => {
  const start = liveTensors();
  const model = createModel<VAE>({ kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 4, width: 8 }, { generator: Generator.cpu(1) });
  const convs = model.parameters().filter((p) => p.shape.length === 4);
  assert.ok(convs.length >= 4, `${convs.length} conv weights`);
  const before = convs.map((p) => p.toFloat32Array());
  const ids = [...convs];
  // Before: row-major (a 1x1 kernel or a single input channel is both layouts at once).
  assert.ok(convs.every((p) => !isChannelsLast(p) || p.shape[1] === 1 || p.shape[2] * p.shape[3] === 1));
  model.toMemoryFormat('channels_last');
  assert.ok(model.parameters().filter((p) => p.shape.length === 4).every((p, i) => p === ids[i] && isChannelsLast(p)));
  convs.forEach((p, i) => assert.deepEqual(p.toFloat32Array(), before[i]));
  assert.ok(convs.every((p) => p.requiresGrad));
  const x = tidy(() => toMemoryFormat(randn([2, 3, 4, 5]), 'channels_last'));
  assert.ok(isChannelsLast(x));
  x.dispose();
  tidy(() => assert.throws(() => toMemoryFormat(convs[0]!.reshape([-1]), 'channels_last'), /4-d \(N, C, H, W\)/));
  model.dispose();
  assert.equal(liveTensors(), start);
});

test('a channels_last training step gives the default layout\'s loss and gradients within float tolerance', () => {
  const start = liveTensors();
  const cfg = { kind: 'vae' as const, decoder: 'gaussian' as const, channels: 1, imageSize: 32 as const, zDim: 4, width: 8 };
  const set = tinySet(8, false);
  const run = (cl: boolean) => {
    const m = createModel<VAE>(cfg, { generator: Generator.cpu(2) });
    m.train();
    if (cl) m.toMemoryFormat('channels_last');
    const x0 = imageBatch(set, Int32Array.from({ length: 8 }, (_, i) => i));
    const r = tidy(() => {
      const x = cl ? toMemoryFormat(x0, 'channels_last') : x0;
      // The second convolution (8 -> 16 channels): unambiguous layouts on both sides.
      const l = m.encoder.layers;
      const h = l[2]!.forward(l[1]!.forward(l[0]!.forward(x)));
      const { loss } = m.loss(x, Generator.cpu(9));
      loss.backward();
      return { hCl: isChannelsLast(h), loss: loss.item(), grads: m.parameters().map((p) => p.grad()!.toFloat32Array()) };
    });
    x0.dispose();
    m.dispose();
    return r;
  };
  const a = run(false), b = run(true);
  assert.equal(a.hCl, false);
  assert.equal(b.hCl, true, 'the convolution ran channels_last');
  assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.abs(a.loss), `loss ${b.loss} vs ${a.loss}`);
  // Per parameter: |ga - gb| <= 1e-5 |ga|max + 1e-4 (the absolute part covers the conv biases in front of a
  // BatchNorm, whose true gradient is 0 and whose computed one is reduction noise of ~1e-5). A layout mix-up gives
  // differences of the order of the gradients themselves (1 to 1e3 here).
  a.grads.forEach((g, i) => {
    const h = b.grads[i]!;
    const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const d = g.reduce((m, v, j) => Math.max(m, Math.abs(v - h[j]!)), 0);
    assert.ok(d <= 1e-5 * scale + 1e-4, `parameter ${i}: max |difference| ${d}, max |gradient| ${scale}`);
  });
  assert.equal(liveTensors(), start);
});

test('channels_last training logs the default layout\'s losses and writes a checkpoint a default model loads', async () => {
  const dir = tmp();
  const start = liveTensors();
  try {
    const set = tinySet(24, false);
    await train({ ...base(join(dir, 'nchw'), set), logEvery: 1 });
    await train({ ...base(join(dir, 'cl'), set), channelsLast: true, logEvery: 1 });
    assert.equal(readRunConfig(join(dir, 'cl')).training.speed?.channelsLast, true);
    const losses = (d: string) => readFileSync(join(dir, d, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss?: number; event?: string })
      .filter((l) => !l.event).map((l) => l.loss!);
    const la = losses('nchw'), lb = losses('cl');
    assert.equal(la.length, 6);
    // Adam turns the ~1e-5 noise in the gradients of the pre-BatchNorm biases into +-lr steps, but those biases do
    // not change the output (BatchNorm removes them), so the losses stay together.
    la.forEach((v, i) => assert.ok(Math.abs(v - lb[i]!) <= 1e-4 * Math.abs(v), `step ${i + 1}: ${lb[i]} vs ${v}`));
    // The file is an ordinary row-major checkpoint: a default-layout model loads it and holds the same values.
    const b = weights(join(dir, 'cl', 'model.safetensors'));
    const m = createModel<VAE>({ kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 4, width: 8 });
    loadStateDict(join(dir, 'cl', 'model.safetensors'), m);
    for (const [k, t] of m.stateDict()) assert.deepEqual(t.toFloat32Array(), b.get(k), k);
    m.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(liveTensors(), start);
});

test('bf16 autocast: convolutions run in bf16, the loss is finite and within bf16 tolerance of float32, weights stay float32', () => {
  const start = liveTensors();
  const cfg = { kind: 'vae' as const, decoder: 'gaussian' as const, channels: 1, imageSize: 32 as const, zDim: 4, width: 8 };
  const set = tinySet(16, false);
  const run = (ac: boolean) => {
    const model = createModel<VAE>(cfg, { generator: Generator.cpu(2) });
    model.train();
    if (ac) { model.encoder.autocast = 'bfloat16'; model.decoder.autocast = 'bfloat16'; }
    const x = imageBatch(set, Int32Array.from({ length: 16 }, (_, i) => i));
    const r = tidy(() => {
      const h = model.encoder.forward(x);
      const hDtype = h.dtype;
      const { loss } = model.loss(x, Generator.cpu(9));
      loss.backward();
      const grads = model.parameters().map((p) => p.grad()!.toFloat32Array());
      return { hDtype, loss: loss.item(), lossDtype: loss.dtype, grads };
    });
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    opt.step();
    const dtypes = model.parameters().map((p) => p.dtype);
    opt.dispose(); x.dispose(); model.dispose();
    return { ...r, dtypes };
  };
  const f = run(false), b = run(true);
  assert.equal(f.hDtype, 'float32');
  assert.equal(b.hDtype, 'bfloat16', 'the encoder ran under autocast');
  assert.ok(Number.isFinite(b.loss));
  assert.equal(b.lossDtype, 'float32');
  // bf16 keeps 8 significant bits (relative rounding 2^-9 per value); the loss is a float32 sum of squared errors of
  // bf16 reconstructions: stated tolerance 2% relative (measured ~0.1-0.5%); a cast bug (e.g. outputs in [0, 255])
  // or lost precision in the sums would be far outside it.
  const rel = Math.abs(b.loss - f.loss) / Math.abs(f.loss);
  assert.ok(rel < 0.02, `loss ${b.loss} vs float32 ${f.loss} (relative ${rel})`);
  // The gradient direction agrees (cosine over all parameters).
  let dot = 0, nf = 0, nb = 0;
  f.grads.forEach((g, i) => g.forEach((v, j) => { const w = b.grads[i]![j]!; dot += v * w; nf += v * v; nb += w * w; }));
  const cos = dot / Math.sqrt(nf * nb);
  assert.ok(cos > 0.99, `gradient cosine ${cos}`);
  assert.ok(b.dtypes.every((d) => d === 'float32'), 'parameters stay float32');
  // Eval-mode passes (validation, scoring) are not autocast.
  assert.equal(liveTensors(), start);
});

test('autocast restores the previous state, also when the body throws; fp16 on the CPU is refused', () => {
  const start = liveTensors();
  const a = randn([3, 4]);
  const mm = (): string => tidy(() => a.matmul(a.transpose(0, 1)).dtype);
  assert.equal(autocast('cpu', 'bfloat16', mm), 'bfloat16');
  assert.equal(mm(), 'float32');
  assert.throws(() => autocast('cpu', 'bfloat16', () => { throw new Error('boom'); }), /boom/);
  assert.equal(mm(), 'float32');
  assert.equal(autocast('cpu', 'bfloat16', () => autocast('cpu', 'bfloat16', mm)), 'bfloat16');
  assert.equal(mm(), 'float32');
  assert.throws(() => autocast('cpu', 'float16', mm), /on the CPU libtorch autocasts to bfloat16 only/);
  assert.throws(() => autocast('mps', 'bfloat16', mm), /unknown device 'mps'/);
  a.dispose();
  assert.equal(liveTensors(), start);
});

test('bf16 autocast training runs end to end on the CPU and records the option; fp16 is refused on the CPU', async () => {
  const dir = tmp();
  try {
    const set = tinySet(24, false);
    const r = await train({ ...base(join(dir, 'bf16'), set, 'sintro'), autocast: 'bf16', maxSteps: 3 });
    assert.equal(r.step, 3);
    assert.equal(readRunConfig(join(dir, 'bf16')).training.speed?.autocast, 'bf16');
    const w = weights(join(dir, 'bf16', 'model.safetensors'));
    for (const [k, v] of w) assert.ok(v.every(Number.isFinite), k);
    await assert.rejects(train({ ...base(join(dir, 'fp16'), set), autocast: 'fp16' }),
      (e: Error) => e instanceof OodgenError && /--autocast fp16: .*bfloat16 only/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('capturable Adam (step count and bias corrections on the device) equals Adam', () => {
  const start = liveTensors();
  const mk = () => [randn([5, 3], { generator: Generator.cpu(4) }).requiresGrad_(true), randn([7], { generator: Generator.cpu(5) }).requiresGrad_(true)];
  const pa = mk(), pb = mk();
  const a = new Adam(pa, { lr: 0.05, betas: [0.8, 0.95], weightDecay: 0.01 });
  const b = new Adam(pb, { lr: 0.05, betas: [0.8, 0.95], weightDecay: 0.01, capturable: true });
  const g = Generator.cpu(6);
  for (let s = 0; s < 12; s++) {
    const grads = [randn([5, 3], { generator: g }), randn([7], { generator: g })];
    for (const [ps, opt] of [[pa, a], [pb, b]] as const) {
      opt.zeroGrad();
      tidy(() => { ps.forEach((p, i) => p.mul(grads[i]!).sum().backward()); });
      opt.step();
    }
    grads.forEach((t) => t.dispose());
  }
  let md = 0;
  pa.forEach((p, i) => { const x = p.toFloat32Array(), y = pb[i]!.toFloat32Array(); x.forEach((v, j) => { md = Math.max(md, Math.abs(v - y[j]!)); }); });
  // Same update; only beta^step in float32 on the device vs double on the host differs (~1e-7 relative).
  assert.ok(md < 2e-6, `max difference ${md}`);
  assert.equal(b.stateDict().meta.step, 12, 'the device step count');
  // A resumed capturable optimizer continues from the saved count.
  const c = new Adam(mk(), { capturable: true });
  c.loadStateDict(b.stateDict());
  assert.equal(c.stateDict().meta.step, 12);
  for (const o of [a, b, c]) { o.dispose(); }
  for (const p of [...pa, ...pb, ...c.params]) p.dispose();
  assert.equal(liveTensors(), start);
});

test('--cuda-graph: refused on the CPU with a clear message; the CPU addon throws a clear Error', async () => {
  if (!buildInfo().cudaGraphs) {
    assert.throws(() => new CudaGraph(), /CUDA graphs need the CUDA build of libtorch/);
  }
  if (cuda.isAvailable()) return;
  const dir = tmp();
  try {
    await assert.rejects(train({ ...base(join(dir, 'g'), tinySet(24, false)), cudaGraph: true }),
      (e: Error) => e instanceof OodgenError && /--cuda-graph needs --device cuda \(got --device cpu\)/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('oodgen train: the GPU-path flags are validated before any work, and reach the trainer', async () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ model: 'vae', data: 'fashion-mnist', out: 'x', epochs: '1', cudaGraph: true }, /--cuda-graph needs --device cuda \(got --device cpu\)/],
    [{ model: 'vae', data: 'fashion-mnist', out: 'x', epochs: '1', cudaGraph: true, device: 'cpu' }, /--cuda-graph needs --device cuda/],
    [{ model: 'vae', data: 'fashion-mnist', out: 'x', epochs: '1', autocast: 'fp32' }, /--autocast must be bf16 or fp16/],
    [{ model: 'vae', data: 'fashion-mnist', out: 'x', epochs: '1', autocast: 'fp16' }, /--autocast fp16 needs --device cuda/],
    [{ out: 'x', resume: true, cudaGraph: true }, /--cuda-graph needs --device cuda/],
  ];
  for (const [raw, re] of bad) {
    await assert.rejects(parseTrainOptions(raw, ['node', 'oodgen']), (e: Error) => e instanceof OodgenError && re.test(e.message), JSON.stringify(raw));
  }
  const ok = await parseTrainOptions({ model: 'vae', data: 'fashion-mnist', out: 'x', epochs: '1', channelsLast: true, autocast: 'bf16', residentData: true }, ['node', 'oodgen']);
  assert.equal(ok.channelsLast, true);
  assert.equal(ok.autocast, 'bf16');
  assert.equal(ok.residentData, true);
  assert.equal(ok.cudaGraph, undefined);
});

test('oodgen train --cuda-graph on the CPU exits with the message, --nproc 2 --cuda-graph too (no rank started)', () => {
  const bin = join(new URL('../..', import.meta.url).pathname, 'bin/oodgen.js');
  const dir = tmp();
  try {
    for (const extra of [[], ['--nproc', '2', '--device', 'cuda']]) {
      const r = spawnSync(process.execPath, [bin, 'train', '--model', 'vae', '--data', 'fashion-mnist:train', '--max-steps', '1', '--out', join(dir, 'r'), '--cuda-graph', ...extra], { encoding: 'utf8', timeout: 60_000 });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, extra.length ? /--cuda-graph is not supported with --nproc > 1/ : /--cuda-graph needs --device cuda/);
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'a message, not a stack trace');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--device cuda with N ranks: one GPU per rank (cuda:LOCAL_RANK), checked before any rank starts', () => {
  assert.equal(rankDevice('cuda', 0, 2), 'cuda:0');
  assert.equal(rankDevice('cuda', 1, 2), 'cuda:1');
  assert.equal(rankDevice('cuda:1', 0, 2), 'cuda:1', 'an explicit device is kept');
  assert.equal(rankDevice('cpu', 3, 0), 'cpu');
  assert.throws(() => rankDevice('cuda', 2, 2), /LOCAL_RANK 2 needs cuda:2, but this machine has 2 CUDA device\(s\); use --nproc 2 or fewer/);
  assert.throws(() => checkLaunchDevice('cuda', 4, 2, () => 'x'), /--nproc 4 with --device cuda needs 4 GPUs .* has 2/);
  assert.throws(() => checkLaunchDevice('cuda', 2, 0, () => 'no CUDA here'), /no CUDA here/);
  checkLaunchDevice('cuda', 2, 2, () => 'x');
  checkLaunchDevice('cpu', 8, 0, () => 'x');
  if (cuda.isAvailable()) return;
  // The CPU build: one clear message from the launcher, no rank started.
  const bin = join(new URL('../..', import.meta.url).pathname, 'bin/oodgen.js');
  const dir = tmp();
  try {
    const r = spawnSync(process.execPath, [bin, 'train', '--nproc', '2', '--device', 'cuda', '--model', 'vae', '--data', 'fashion-mnist:train', '--max-steps', '1', '--out', join(dir, 'r')], { encoding: 'utf8', timeout: 60_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--nproc 2 --device cuda: device 'cuda' requested but this oodgen build has no usable CUDA/);
    assert.doesNotMatch(r.stderr, /\[rank \d\]/, 'no rank was started');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A CPU stand-in for a CUDA graph with the same observable contract: capture runs the body once (the real capture
 * records it and the replay right after runs it), later replays run the body again writing into the captured
 * output. Lets the GraphedStep plumbing (static input, warm-up, one capture, stacked terms) be tested here.
 */
class EagerGraph implements GraphLike {
  sides = 0; captures = 0; replays = 0;
  private fn: (() => Tensor) | null = null;
  private out: Tensor | null = null;
  private justCaptured = false;
  onSideStream<T>(fn: () => T): T { this.sides++; return fn(); }
  capture<T>(fn: () => T): T {
    this.captures++;
    const out = fn();
    this.fn = fn as unknown as () => Tensor;
    this.out = out as unknown as Tensor;
    this.justCaptured = true;
    return out;
  }
  replay(): void {
    this.replays++;
    if (this.justCaptured) { this.justCaptured = false; return; }
    const r = this.fn!();
    noGrad(() => copy_(this.out!, r));
    r.dispose();
  }
  dispose(): void {}
}

test('GraphedStep: 3 eager warm-up steps on the side stream, one capture, then replays; same weights and terms as eager steps', () => {
  const start = liveTensors();
  const cfg = { kind: 'sintro' as const, decoder: 'gaussian' as const, channels: 1, imageSize: 32 as const, zDim: 4, width: 8 };
  const set = tinySet(16, false);
  const prepare = (x: Tensor, g: Generator): Tensor => dequantizeTensor(x, g);
  const mk = () => {
    const m = createModel<VAE>(cfg, { generator: Generator.cpu(3) });
    m.train();
    return { m, t: m.createTrainer({ lr: 1e-3, betas: [0.9, 0.999], hyper: null, capturable: true }) };
  };
  const a = mk(), b = mk();
  const fake = new EagerGraph();
  const graphed = new GraphedStep(a.t, [4, 1, 32, 32], 'cpu', 77, prepare, fake);
  const g = Generator.cpu(77);
  const termsA: Record<string, number>[] = [], termsB: Record<string, number>[] = [];
  for (let s = 0; s < 6; s++) {
    const index = Int32Array.from({ length: 4 }, (_, i) => (s * 4 + i) % 16);
    termsA.push(tidy(() => graphed.step(imageBatch(set, index))));
    termsB.push(tidy(() => {
      const t = b.t.stepTensors!(prepare(imageBatch(set, index), g), g);
      return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.item()]));
    }));
  }
  assert.deepEqual({ sides: fake.sides, captures: fake.captures, replays: fake.replays }, { sides: 3, captures: 1, replays: 3 });
  assert.deepEqual(graphed.counts, { eager: 3, captured: true });
  assert.deepEqual(Object.keys(termsA[0]!), ['loss', 'lossE', 'rec', 'kl', 'klFake', 'klRec', 'expElboFake', 'expElboRec']);
  termsA.forEach((t, i) => {
    for (const k of Object.keys(t)) assert.equal(t[k], Math.fround(termsB[i]![k]!), `step ${i + 1} ${k}`);
  });
  const wa = a.m.parameters().map((p) => p.toFloat32Array()), wb = b.m.parameters().map((p) => p.toFloat32Array());
  wa.forEach((w, i) => assert.deepEqual(w, wb[i]));
  graphed.dispose();
  for (const x of [a, b]) { x.t.dispose(); x.m.dispose(); }
  assert.equal(liveTensors(), start);
});
