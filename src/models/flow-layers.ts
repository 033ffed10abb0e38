// The invertible layers of Glow (Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions",
// Table 1). Each layer maps x -> y and returns log|det dy/dx| per sample (B,), and inverts y -> x exactly:
//
//   actnorm           y = (x + b) * exp(logs)                 logdet = H W sum(logs)
//   invertible 1x1    y = W x (per pixel)                     logdet = H W log|det W|
//     LU form         W = P L (U + diag(sign(s) exp(log|s|)))  logdet = H W sum(log|s|)
//   affine coupling   xa, xb = split(x); (t, s~) = NN(xa); s = sigmoid(s~ + 2)
//                     y = concat(xa, (xb + t) * s)            logdet = sum log s, as log_sigmoid(s~ + 2)
//
// Parameter names follow the PyTorch transcription tests/fixtures/glow_ref.py, so state_dicts load there with
// strict=True. Conventions shared with it: actnorm's data-dependent initialisation (Glow section 3.1) sets
// b = -mean, logs = -log(std + 1e-6) per channel from the first training batch (population std, as openai/glow),
// and a buffer `initialized` records that it happened; the coupling network is conv3x3 -> ReLU -> conv1x1 -> ReLU ->
// ZeroConv3x3 (zero-initialised, so every coupling starts near the identity); split sizes are ceil(C/2) | floor(C/2).
import type { Tensor } from '../engine/tensor.js';
import type { Generator } from '../engine/random.js';
import {
  add, cat, conv2d, copy_, div, exp, fill_, full, log, logAbsDet, matmul, mean as meanOp, mul, narrow, neg, randn,
  reshape, sigmoid, logSigmoid, sub, sum, toDtype, variance, view, permute, inverse, diag, fromTypedArray, zeros, sqrt,
} from '../engine/ops/index.js';
import { noGrad } from '../engine/autograd.js';
import { toMemoryFormat, type MemoryFormat } from '../engine/memory-format.js';
import { Module } from '../nn/module.js';
import { Conv2d, ReLU, Sequential } from '../nn/index.js';
import { sumPerSample } from './likelihoods.js';

export const LOG_2PI = Math.log(2 * Math.PI);

/** A bijection with a tractable Jacobian: y and log|det dy/dx| per sample (B,). */
export abstract class FlowLayer extends Module {
  abstract forwardFlow(x: Tensor): { y: Tensor; logdet: Tensor };
  abstract reverse(y: Tensor): Tensor;
  forward(x: Tensor): Tensor {
    const { y, logdet } = this.forwardFlow(x);
    logdet.dispose();
    return y;
  }
}

/** Children "0", "1", ... without a forward of their own (torch.nn.ModuleList). */
export class ModuleList<M extends Module> extends Module {
  constructor(readonly items: M[]) {
    super();
    items.forEach((m, i) => this.registerModule(String(i), m));
  }
  forward(): Tensor {
    throw new Error('ModuleList has no forward; call its items');
  }
}

/** Spatial size H*W of an NCHW tensor (the number of positions a per-channel logdet is counted at). */
const hw = (x: Tensor): number => x.shape[2]! * x.shape[3]!;

/** A (B,) tensor filled with v, on x's device. */
const perSample = (x: Tensor, v: Tensor): Tensor => mul(full([x.shape[0]!], 1, { device: x.device }), v);

/**
 * Per-channel affine normalisation with data-dependent initialisation: the first forward in training mode sets
 * bias = -mean and logs = -log(std + 1e-6) over (B, H, W), so that batch's output has zero mean and unit variance.
 */
export class ActNorm extends FlowLayer {
  readonly bias: Tensor;
  readonly logs: Tensor;
  readonly initialized: Tensor;
  private known = false;
  constructor(readonly channels: number) {
    super();
    this.bias = this.registerParameter('bias', zeros([1, channels, 1, 1]));
    this.logs = this.registerParameter('logs', zeros([1, channels, 1, 1]));
    this.initialized = this.registerBuffer('initialized', full([], 0, { dtype: 'uint8' }));
  }

  get isInitialized(): boolean {
    if (!this.known) this.known = this.initialized.item() !== 0;
    return this.known;
  }

  /** Sets bias and logs from a batch (Glow section 3.1); called by the first training forward. */
  initialize(x: Tensor): void {
    noGrad(() => {
      const m = meanOp(x, [0, 2, 3], true); // (1, C, 1, 1)
      const sd = sqrt(variance(x, [0, 2, 3], true, false)); // population std, (1, C, 1, 1)
      const logs = neg(log(add(sd, 1e-6)));
      const b = neg(m);
      copy_(this.bias, b);
      copy_(this.logs, logs);
      fill_(this.initialized, 1);
      for (const t of [m, sd, logs, b]) t.dispose();
    });
    this.known = true;
  }

  forwardFlow(x: Tensor): { y: Tensor; logdet: Tensor } {
    if (this.training && !this.isInitialized) this.initialize(x);
    const y = mul(add(x, this.bias), exp(this.logs));
    return { y, logdet: perSample(x, mul(sum(this.logs), hw(x))) };
  }

  reverse(y: Tensor): Tensor {
    return sub(mul(y, exp(neg(this.logs))), this.bias);
  }
}

/** Random orthogonal n x n matrix (Gram-Schmidt on Gaussian columns), the initialisation Glow uses for W. */
function randomOrthogonal(n: number, generator?: Generator): Float64Array {
  const g = randn([n, n], generator ? { generator } : {});
  const a = Float64Array.from(g.toFloat32Array());
  g.dispose();
  // Columns j of a (row-major a[i*n+j]); orthonormalise in place, twice for numerical safety.
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < j; k++) {
        let d = 0;
        for (let i = 0; i < n; i++) d += a[i * n + j]! * a[i * n + k]!;
        for (let i = 0; i < n; i++) a[i * n + j]! -= d * a[i * n + k]!;
      }
      let nrm = 0;
      for (let i = 0; i < n; i++) nrm += a[i * n + j]! ** 2;
      nrm = Math.sqrt(nrm);
      for (let i = 0; i < n; i++) a[i * n + j]! /= nrm;
    }
  }
  return a;
}

/** LU with partial pivoting of a row-major n x n matrix: A = P L U, L unit lower, U upper. */
export function luDecompose(a: Float64Array, n: number): { p: Float64Array; l: Float64Array; u: Float64Array } {
  const u = Float64Array.from(a);
  const l = new Float64Array(n * n);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let k = 0; k < n; k++) {
    let piv = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(u[i * n + k]!) > Math.abs(u[piv * n + k]!)) piv = i;
    if (piv !== k) {
      for (let j = 0; j < n; j++) {
        [u[k * n + j], u[piv * n + j]] = [u[piv * n + j]!, u[k * n + j]!];
        [l[k * n + j], l[piv * n + j]] = [l[piv * n + j]!, l[k * n + j]!];
      }
      [perm[k], perm[piv]] = [perm[piv]!, perm[k]!];
    }
    for (let i = k + 1; i < n; i++) {
      const f = u[i * n + k]! / u[k * n + k]!;
      l[i * n + k] = f;
      for (let j = k; j < n; j++) u[i * n + j]! -= f * u[k * n + j]!;
    }
  }
  for (let i = 0; i < n; i++) l[i * n + i] = 1;
  // Row i of (PA) is row perm[i] of A, so A = P L U with P[perm[i], i] = 1.
  const p = new Float64Array(n * n);
  for (let i = 0; i < n; i++) p[perm[i]! * n + i] = 1;
  return { p, l, u };
}

/** log |det W| in float64 (W is small; float32 determinants of 48x48 matrices lose digits). */
function logAbsDet64(w: Tensor): Tensor {
  const w64 = toDtype(w, 'float64');
  const ld = logAbsDet(w64);
  const out = toDtype(ld, 'float32');
  w64.dispose();
  ld.dispose();
  return out;
}

const as1x1 = (w: Tensor): Tensor => view(w, [w.shape[0]!, w.shape[1]!, 1, 1]); // (C, C, 1, 1)

/** Invertible 1x1 convolution with an unconstrained weight W (C, C), initialised to a random rotation. */
export class InvConv2d extends FlowLayer {
  readonly weight: Tensor;
  constructor(readonly channels: number, o: { generator?: Generator } = {}) {
    super();
    const q = randomOrthogonal(channels, o.generator);
    this.weight = this.registerParameter('weight', fromTypedArray(Float32Array.from(q), [channels, channels]));
  }
  forwardFlow(x: Tensor): { y: Tensor; logdet: Tensor } {
    const y = conv2d(x, as1x1(this.weight));
    return { y, logdet: perSample(x, mul(logAbsDet64(this.weight), hw(x))) };
  }
  reverse(y: Tensor): Tensor {
    const inv = toDtype(inverse(toDtype(this.weight, 'float64')), 'float32');
    return conv2d(y, as1x1(inv));
  }
}

/**
 * The LU-parameterised 1x1 convolution (Glow section 3.2): W = P (L * mask_l + I) (U * mask_u + diag(sign_s *
 * exp(log_s))), P fixed; log|det W| = sum(log_s) costs O(C) instead of O(C^3).
 */
export class InvConv2dLU extends FlowLayer {
  readonly lower: Tensor;
  readonly upper: Tensor;
  readonly logS: Tensor;
  readonly p: Tensor;
  readonly signS: Tensor;
  readonly lMask: Tensor;
  readonly uMask: Tensor;
  readonly eye: Tensor;
  constructor(readonly channels: number, o: { generator?: Generator } = {}) {
    super();
    const n = channels;
    const { p, l, u } = luDecompose(randomOrthogonal(n, o.generator), n);
    const s = new Float32Array(n), sign = new Float32Array(n), lm = new Float32Array(n * n), um = new Float32Array(n * n), eye = new Float32Array(n * n);
    const upper = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      const d = u[i * n + i]!;
      s[i] = Math.log(Math.abs(d));
      sign[i] = Math.sign(d);
      eye[i * n + i] = 1;
      for (let j = 0; j < n; j++) {
        if (j < i) lm[i * n + j] = 1;
        if (j > i) { um[i * n + j] = 1; upper[i * n + j] = u[i * n + j]!; }
      }
    }
    const f = (a: ArrayLike<number>, shape: number[]) => fromTypedArray(Float32Array.from(a), shape);
    this.lower = this.registerParameter('lower', f(l, [n, n]));
    this.upper = this.registerParameter('upper', f(upper, [n, n]));
    this.logS = this.registerParameter('log_s', f(s, [n]));
    this.p = this.registerBuffer('p', f(p, [n, n]));
    this.signS = this.registerBuffer('sign_s', f(sign, [n]));
    this.lMask = this.registerBuffer('l_mask', f(lm, [n, n]));
    this.uMask = this.registerBuffer('u_mask', f(um, [n, n]));
    this.eye = this.registerBuffer('eye', f(eye, [n, n]));
  }
  /** W (C, C) from its LU factors. */
  weight(): Tensor {
    const l = add(mul(this.lower, this.lMask), this.eye);
    const u = add(mul(this.upper, this.uMask), diag(mul(this.signS, exp(this.logS))));
    return matmul(matmul(this.p, l), u);
  }
  forwardFlow(x: Tensor): { y: Tensor; logdet: Tensor } {
    const y = conv2d(x, as1x1(this.weight()));
    return { y, logdet: perSample(x, mul(sum(this.logS), hw(x))) };
  }
  reverse(y: Tensor): Tensor {
    const inv = toDtype(inverse(toDtype(this.weight(), 'float64')), 'float32');
    return conv2d(y, as1x1(inv));
  }
}

/**
 * A 3x3 convolution initialised to zero whose output is scaled by exp(3 * logs) per channel (openai/glow's
 * conv2d_zeros, logscale_factor = 3): the last layer of every coupling network and of every learned prior.
 */
export class ZeroConv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly logs: Tensor;
  constructor(readonly inChannels: number, readonly outChannels: number) {
    super();
    this.weight = this.registerParameter('weight', zeros([outChannels, inChannels, 3, 3]));
    this.bias = this.registerParameter('bias', zeros([outChannels]));
    this.logs = this.registerParameter('logs', zeros([outChannels]));
  }
  forward(x: Tensor): Tensor {
    const h = conv2d(x, this.weight, this.bias, { padding: 1 });
    return mul(h, exp(mul(view(this.logs, [1, -1, 1, 1]), 3))); // logs as (1, C, 1, 1)
  }
}

/** Channel split sizes of a coupling or a multi-scale split: ceil(C/2) kept, floor(C/2) transformed. */
export const splitSizes = (c: number): [number, number] => [c - Math.floor(c / 2), Math.floor(c / 2)];

/**
 * The kept half as the coupling network reads it: channels_last on the CPU. The network's outer convolutions have
 * few channels (the first reads 2-24, the last writes 4-48 at this project's sizes), and libtorch 1.13's oneDNN
 * kernels run them 1.2-2.2x faster in NHWC than in NCHW (docs/benchmarks.md, "Flow models"). The layout changes
 * no formula, only the order of the sums inside each convolution, so values agree to float rounding. Elsewhere
 * (CUDA, where cuDNN's float32 NHWC kernels are not always faster, and 1x1 images) the tensor passes unchanged.
 */
function couplingLayout(xa: Tensor): Tensor {
  const f = couplingConvLayout.cpu;
  return f === 'channels_last' && xa.device === 'cpu' && hw(xa) > 1 ? toMemoryFormat(xa, f) : xa;
}

/** The CPU layout of the coupling networks; `oodgen bench flow-step --layouts` switches it to time both. */
export const couplingConvLayout: { cpu: MemoryFormat } = { cpu: 'channels_last' };

/** Affine coupling (Glow section 3.3, RealNVP): the second half is scaled and shifted by a function of the first. */
export class AffineCoupling extends FlowLayer {
  readonly net: Sequential;
  readonly ca: number;
  readonly cb: number;
  constructor(readonly channels: number, width: number, o: { generator?: Generator } = {}) {
    super();
    if (channels < 2) throw new Error(`affine coupling needs at least 2 channels, got ${channels}`);
    [this.ca, this.cb] = splitSizes(channels);
    const g = { generator: o.generator };
    this.net = this.registerModule('net', new Sequential(
      new Conv2d(this.ca, width, 3, { padding: 1, ...g }), new ReLU(),
      new Conv2d(width, width, 1, g), new ReLU(),
      new ZeroConv2d(width, 2 * this.cb),
    ));
  }
  /** shift t, scale s = sigmoid(s~ + 2) from the kept half, and the scale's pre-activation s~ + 2. */
  private shiftScale(xa: Tensor): { t: Tensor; s: Tensor; pre: Tensor } {
    const h = this.net.forward(couplingLayout(xa)); // (B, 2 cb, H, W)
    const t = narrow(h, 1, 0, this.cb);
    const pre = add(narrow(h, 1, this.cb, this.cb), 2);
    return { t, s: sigmoid(pre), pre };
  }
  forwardFlow(x: Tensor): { y: Tensor; logdet: Tensor } {
    const xa = narrow(x, 1, 0, this.ca), xb = narrow(x, 1, this.ca, this.cb);
    const { t, s, pre } = this.shiftScale(xa);
    const y = cat([xa, mul(add(xb, t), s)], 1);
    // log s as log_sigmoid(pre), not log(sigmoid(pre)): the same number wherever sigmoid is representable, but once a
    // coupling pushes pre below about -88 float32's sigmoid underflows to 0, log gives -inf and its gradient
    // 0 * inf = NaN. Seen: the Fashion-MNIST background Glow (--mutate 0.2, lr 1e-3) ended in an infinite loss at
    // step 3,970 on a GPU and at step 5,047 on the CPU; what wrecked it first, a single batch's 1.5e10 loss 20 steps
    // earlier, is what the trainer's --max-grad-norm guards against (glow.ts).
    return { y, logdet: sumPerSample(logSigmoid(pre)) };
  }
  reverse(y: Tensor): Tensor {
    const ya = narrow(y, 1, 0, this.ca), yb = narrow(y, 1, this.ca, this.cb);
    const { t, s } = this.shiftScale(ya);
    return cat([ya, sub(div(yb, s), t)], 1);
  }
}

/** One step of flow: actnorm -> invertible 1x1 convolution -> affine coupling (Glow Fig. 2a). */
export class FlowStep extends FlowLayer {
  readonly actnorm: ActNorm;
  readonly invconv: InvConv2d | InvConv2dLU;
  readonly coupling: AffineCoupling;
  constructor(channels: number, width: number, o: { lu?: boolean; generator?: Generator } = {}) {
    super();
    this.actnorm = this.registerModule('actnorm', new ActNorm(channels));
    this.invconv = this.registerModule('invconv', o.lu ? new InvConv2dLU(channels, o) : new InvConv2d(channels, o));
    this.coupling = this.registerModule('coupling', new AffineCoupling(channels, width, o));
  }
  forwardFlow(x: Tensor): { y: Tensor; logdet: Tensor } {
    const a = this.actnorm.forwardFlow(x);
    const b = this.invconv.forwardFlow(a.y);
    const c = this.coupling.forwardFlow(b.y);
    return { y: c.y, logdet: add(add(a.logdet, b.logdet), c.logdet) };
  }
  reverse(y: Tensor): Tensor {
    return this.actnorm.reverse(this.invconv.reverse(this.coupling.reverse(y)));
  }
}

/** Space-to-depth (B, C, H, W) -> (B, 4C, H/2, W/2); channel index c*4 + 2*dy + dx. */
export function squeeze2d(x: Tensor): Tensor {
  const [b, c, h, w] = x.shape as [number, number, number, number];
  if (h % 2 || w % 2) throw new Error(`squeeze needs even height and width, got ${h}x${w}`);
  const t = permute(view(x, [b, c, h / 2, 2, w / 2, 2]), [0, 1, 3, 5, 2, 4]); // (B, C, 2, 2, H/2, W/2)
  return reshape(t, [b, 4 * c, h / 2, w / 2]);
}

/** Inverse of squeeze2d. */
export function unsqueeze2d(x: Tensor): Tensor {
  const [b, c4, h, w] = x.shape as [number, number, number, number];
  const t = permute(view(x, [b, c4 / 4, 2, 2, h, w]), [0, 1, 4, 2, 5, 3]); // (B, C, H, 2, W, 2)
  return reshape(t, [b, c4 / 4, 2 * h, 2 * w]);
}

/** log N(z; mean, exp(logsd)^2) summed per sample: -1/2 sum(log 2pi + 2 logsd + (z - mean)^2 exp(-2 logsd)). */
export function gaussianLogProb(z: Tensor, m: Tensor, logsd: Tensor): Tensor {
  const d = mul(sub(z, m), exp(neg(logsd)));
  return mul(sumPerSample(add(add(mul(d, d), mul(logsd, 2)), LOG_2PI)), -0.5);
}

/** A constant (B,) tensor, for sums that start at zero. */
export const zerosPerSample = (x: Tensor): Tensor => zeros([x.shape[0]!], { device: x.device });
