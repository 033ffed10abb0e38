// Likelihood regret (Xiao, Yan & Amit, NeurIPS 2020, "Likelihood Regret: An Out-of-Distribution Detection Score
// for Variational Auto-encoder", eq. 6; reference code XavierXiao/Likelihood-Regret, compute_LR.py):
//
//   LR(x) = NLL(x; phi, theta) - NLL(x; phi_x*, theta)
//   phi_x* = the encoder fine-tuned on x alone: a copy of the encoder, decoder theta frozen, 100 Adam steps
//            (lr 2e-4, weight decay 5e-5) on the one-sample negative ELBO  KL(q(z|x) || p(z)) - log p(x|z),
//            z = mu + sigma * eps, with the encoder's BatchNorm in eval mode (running statistics).
//
// NLL is the IWAE estimate -L_K (iwae.ts) with the same K noise draws before and after, so the difference measures
// the encoder's improvement and not Monte-Carlo noise. How much the likelihood can still improve by fitting the
// posterior to this one image is small for ID images (the amortised encoder is already good at them) and large for
// OoD ones. Higher = more OoD.
//
// Two implementations giving the same numbers (tests/scores/likelihood-regret.test.ts checks them against each
// other and the loop against PyTorch):
//  - regretLoop: the faithful per-image loop, one encoder copy (a real Module) and one Adam per image;
//  - regretBatched: G images at once, each with its own encoder copy, by stacking the copies' parameters along a
//    new leading dimension: Conv2d becomes one grouped convolution (groups = G, input (1, G*C, H, W)), BatchNorm2d
//    in eval an affine map with G stacked scales and shifts, Linear a batched matmul. Adam is elementwise, so one
//    Adam over the stacked tensors takes exactly the steps of G separate Adams (same lr, weight decay, bias
//    correction), and the sum of the G losses gives each copy the gradient of its own image only.
import {
  Tensor, tidy, noGrad, keep, detach, repeat, reshape, unsqueeze, squeeze, conv2d, batchNorm, bmm, leakyRelu, relu,
  chunkAll, add, mul, exp, sum, sub, narrow, logsumexp, contiguous, view,
} from '../engine/index.js';
import { Adam } from '../optim/adam.js';
import { Conv2d, Linear, Sequential, LeakyReLU, ReLU, Flatten, BatchNorm2d, type Module } from '../nn/index.js';
import type { LatentModel } from '../models/types.js';
import { klStdNormal } from '../models/likelihoods.js';
import { createModel } from '../models/factory.js';
import { OodgenError } from '../errors.js';
import { Noise, defaultDecodeBatch, gaussianPosterior, sampleTerms } from './latent.js';
import type { Detector, DetectorSpec, ScoreBatch } from './types.js';
import { intOption, latent, numOption } from './fitted.js';
import { applyBnMode } from './bn-mode.js';
import { drain, type Steps } from './steps.js';

export interface RegretOptions {
  /** Adam steps per image (default 100, the paper's). */
  steps?: number;
  /** Adam learning rate (default 2e-4) and L2 weight decay (default 5e-5), the reference code's. */
  lr?: number;
  weightDecay?: number;
  /** IWAE importance samples of the NLL before and after (default 50). */
  k?: number;
  decodeBatch?: number;
}

export interface RegretResult {
  /** NLL before and after fine-tuning and their difference, nats, (B,) each. */
  before: Float32Array;
  after: Float32Array;
  regret: Float32Array;
}

/** The noise a batch of B images needs: eps for each optimisation step (steps, B, Z) and for the IWAE (K, B, Z). */
export interface RegretNoise {
  train: Tensor;
  iwae: Tensor;
}

function settings(o: RegretOptions) {
  const s = { steps: o.steps ?? 100, lr: o.lr ?? 2e-4, weightDecay: o.weightDecay ?? 5e-5, k: o.k ?? 50 };
  if (!Number.isInteger(s.steps) || s.steps < 0) throw new OodgenError(`likelihood-regret: steps must be a non-negative integer, got ${s.steps}`);
  if (!Number.isInteger(s.k) || s.k < 1) throw new OodgenError(`likelihood-regret: K must be a positive integer, got ${s.k}`);
  if (!(s.lr > 0)) throw new OodgenError(`likelihood-regret: lr must be positive, got ${s.lr}`);
  return s;
}

function checkNoise(model: LatentModel, x: Tensor, n: RegretNoise, steps: number, k: number): void {
  const b = x.shape[0]!, z = model.config.zDim;
  const ok = (t: Tensor, a: number) => t.shape.length === 3 && t.shape[0]! >= a && t.shape[1] === b && t.shape[2] === z;
  if (!ok(n.train, steps)) throw new OodgenError(`likelihood-regret: training noise has shape [${n.train.shape.join(', ')}], expected [${steps}, ${b}, ${z}]`);
  if (!ok(n.iwae, k)) throw new OodgenError(`likelihood-regret: IWAE noise has shape [${n.iwae.shape.join(', ')}], expected [${k}, ${b}, ${z}]`);
  if (model.config.kind === 'ae') throw new OodgenError("likelihood-regret needs a stochastic encoder q(z|x); an autoencoder has none (use --scores rec)");
}

/** -L_K per image for a given posterior, (B,). */
function iwaeNll(model: LatentModel, x: Tensor, mu: Tensor, logvar: Tensor, eps: Tensor, k: number, decodeBatch: number): Tensor {
  const t = sampleTerms(model, x, mu, logvar, k, eps, decodeBatch);
  const w = add(sub(t.logPx, t.logQz), t.logPz); // (K, B)
  return mul(sub(logsumexp(w, 0), Math.log(k)), -1);
}

/** One-sample negative ELBO summed over the batch: sum_i KL_i - log p(x_i | z_i). */
function negElbo(model: LatentModel, x: Tensor, mu: Tensor, logvar: Tensor, eps: Tensor): Tensor {
  const z = add(mu, mul(exp(mul(logvar, 0.5)), eps));
  return sum(sub(klStdNormal(mu, logvar), model.logLikelihood(x, model.decode(z))));
}

/**
 * Runs fn with the model's parameters frozen (no gradients accumulate there) and every BatchNorm on its running
 * statistics (the paper's eval mode, whatever BN mode the caller chose: the fine-tuned copies use running
 * statistics, so the NLL before must too).
 */
function* withFrozenModel<T>(model: LatentModel, fn: () => Steps<T>): Steps<T> {
  const params = model.parameters();
  const was = params.map((p) => p.requiresGrad);
  const training = model.training;
  const restoreBn = applyBnMode(model, 'eval');
  model.eval();
  for (const p of params) p.requiresGrad = false;
  try {
    return yield* fn();
  } finally {
    params.forEach((p, i) => { p.requiresGrad = was[i]!; });
    model.train(training);
    restoreBn();
  }
}

const nllBefore = (model: LatentModel, x: Tensor, eps: Tensor, k: number, db: number): Float32Array =>
  noGrad(() => tidy(() => {
    const { mu, logvar } = gaussianPosterior(model.encode(x), 'likelihood-regret');
    return iwaeNll(model, x, mu, logvar, eps, k, db).toFloat32Array();
  }));

function result(before: Float32Array, after: Float32Array): RegretResult {
  const regret = new Float32Array(before.length);
  for (let i = 0; i < regret.length; i++) regret[i] = before[i]! - after[i]!;
  return { before, after, regret };
}

/** The faithful per-image loop: for each image a fresh copy of the encoder and a fresh Adam. */
export function regretLoop(model: LatentModel, x: Tensor, noise: RegretNoise, o: RegretOptions = {}): RegretResult {
  return drain(regretLoopSteps(model, x, noise, o));
}

/** regretLoop in steps (steps.ts): yields after every Adam step, so an interruptible scorer can stop it there. */
export function* regretLoopSteps(model: LatentModel, x: Tensor, noise: RegretNoise, o: RegretOptions = {}): Steps<RegretResult> {
  const s = settings(o);
  checkNoise(model, x, noise, s.steps, s.k);
  const db = o.decodeBatch ?? defaultDecodeBatch(model);
  const b = x.shape[0]!;
  return yield* withFrozenModel(model, function* () {
    const before = nllBefore(model, x, noise.iwae, s.k, db);
    yield;
    const after = new Float32Array(b);
    // One copy model, its encoder reset to the original weights for every image (cheaper than b allocations).
    const copy = createModel(model.config, { device: model.device });
    const state = model.encoder.stateDict();
    try {
      for (const p of copy.decoder.parameters()) p.requiresGrad = false;
      copy.eval();
      for (let i = 0; i < b; i++) {
        copy.encoder.loadStateDict(state);
        const opt = new Adam(copy.encoder.parameters(), { lr: s.lr, weightDecay: s.weightDecay });
        const xi = keep(tidy(() => contiguous(narrow(x, 0, i, 1)))); // (1, C, H, W)
        try {
          for (let t = 0; t < s.steps; t++) {
            tidy(() => {
              const { mu, logvar } = gaussianPosterior(copy.encode(xi), 'likelihood-regret');
              const eps = view(narrow(narrow(noise.train, 0, t, 1), 1, i, 1), [1, -1]); // (1, Z)
              negElbo(model, xi, mu, logvar, eps).backward();
              opt.step();
              opt.zeroGrad();
            });
            yield;
          }
          after[i] = noGrad(() => tidy(() => {
            const { mu, logvar } = gaussianPosterior(copy.encode(xi), 'likelihood-regret');
            const e = contiguous(narrow(noise.iwae, 1, i, 1)); // (K, 1, Z)
            return iwaeNll(model, xi, mu, logvar, e, s.k, db).item();
          }));
        } finally {
          opt.dispose();
          xi.dispose();
        }
      }
    } finally {
      copy.dispose();
    }
    return result(before, after);
  });
}

type StackedLayer =
  | { kind: 'conv'; w: Tensor; b: Tensor | null; stride: number | number[]; padding: number | number[]; dilation: number | number[] }
  | { kind: 'bn'; w: Tensor | null; b: Tensor | null; mean: Tensor; var: Tensor; eps: number }
  | { kind: 'linear'; w: Tensor; b: Tensor | null }
  | { kind: 'lrelu'; slope: number }
  | { kind: 'relu' }
  | { kind: 'flatten' };

const leaf = (t: Tensor): Tensor => keep(detach(t)).requiresGrad_(true);

/** G copies of an encoder (Sequential of Conv2d, BatchNorm2d in eval, (Leaky)ReLU, Flatten, Linear) stacked for one pass. */
export class StackedEncoder {
  readonly layers: StackedLayer[] = [];
  constructor(encoder: Module, readonly g: number) {
    if (!(encoder instanceof Sequential)) throw new OodgenError('likelihood-regret (batched): the encoder must be a Sequential of DCGAN layers');
    try {
      this.build(encoder);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  private build(encoder: Sequential): void {
    const g = this.g;
    noGrad(() => tidy(() => {
      for (const [name, m] of encoder.children()) {
        if (m instanceof Conv2d) {
          const grp = m.opts.groups ?? 1;
          if (grp !== 1) throw new OodgenError(`likelihood-regret (batched): encoder layer ${name} is already grouped`);
          this.layers.push({
            kind: 'conv', w: leaf(repeat(m.weight, [g, 1, 1, 1])), b: m.bias ? leaf(repeat(m.bias, [g])) : null, // (G*out, in, k, k)
            stride: m.opts.stride ?? 1, padding: m.opts.padding ?? 0, dilation: m.opts.dilation ?? 1,
          });
        } else if (m instanceof BatchNorm2d) {
          this.layers.push({
            kind: 'bn', w: m.weight ? leaf(repeat(m.weight, [g])) : null, b: m.bias ? leaf(repeat(m.bias, [g])) : null,
            mean: keep(repeat(m.runningMean, [g])), var: keep(repeat(m.runningVar, [g])), eps: m.eps,
          });
        } else if (m instanceof Linear) {
          this.layers.push({ kind: 'linear', w: leaf(repeat(unsqueeze(m.weight, 0), [g, 1, 1])), b: m.bias ? leaf(repeat(unsqueeze(m.bias, 0), [g, 1])) : null }); // (G, out, in), (G, out)
        } else if (m instanceof LeakyReLU) this.layers.push({ kind: 'lrelu', slope: m.slope });
        else if (m instanceof ReLU) this.layers.push({ kind: 'relu' });
        else if (m instanceof Flatten && m.startDim === 1 && m.endDim === -1) this.layers.push({ kind: 'flatten' });
        else throw new OodgenError(`likelihood-regret (batched): encoder layer ${name} (${m.constructor.name}) is not supported; use --regret-mode loop`);
      }
    }));
  }

  parameters(): Tensor[] {
    const out: Tensor[] = [];
    for (const l of this.layers) {
      if (l.kind === 'conv' || l.kind === 'linear' || l.kind === 'bn') {
        if (l.w) out.push(l.w);
        if (l.b) out.push(l.b);
      }
    }
    return out;
  }

  /** x (G, C, H, W), image i through copy i -> (G, out). */
  forward(x: Tensor): Tensor {
    const g = this.g;
    let h = reshape(x, [1, -1, x.shape[2]!, x.shape[3]!]); // (1, G*C, H, W)
    let flat = false;
    for (const l of this.layers) {
      switch (l.kind) {
        case 'conv': h = conv2d(h, l.w, l.b, { stride: l.stride, padding: l.padding, dilation: l.dilation, groups: g }); break;
        case 'bn': h = batchNorm(h, l.mean, l.var, l.w, l.b, { training: false, eps: l.eps }); break;
        case 'lrelu': h = leakyRelu(h, l.slope); break;
        case 'relu': h = relu(h); break;
        case 'flatten': h = reshape(h, [g, -1]); flat = true; break; // (G, C'*H'*W'), each copy's channels in order
        case 'linear': {
          if (!flat) throw new OodgenError('likelihood-regret (batched): Linear before Flatten');
          const y = squeeze(bmm(l.w, unsqueeze(h, 2)), 2); // (G, out)
          h = l.b ? add(y, l.b) : y;
          break;
        }
      }
    }
    return h;
  }

  dispose(): void {
    for (const l of this.layers) {
      if (l.kind === 'conv' || l.kind === 'linear') { l.w.dispose(); l.b?.dispose(); }
      if (l.kind === 'bn') { l.w?.dispose(); l.b?.dispose(); l.mean.dispose(); l.var.dispose(); }
    }
  }
}

/** Posterior (mu, logvar) from a VAE-style encoder output (G, 2Z). */
const posteriorOf = (h: Tensor) => {
  const [mu, logvar] = chunkAll(h, 2, 1);
  return { mu: mu!, logvar: logvar! };
};

/** The batched form: `group` images optimised together (default all of x), each with its own encoder copy. */
export function regretBatched(model: LatentModel, x: Tensor, noise: RegretNoise, o: RegretOptions & { group?: number } = {}): RegretResult {
  return drain(regretBatchedSteps(model, x, noise, o));
}

/** regretBatched in steps (steps.ts): yields after every Adam step of every group. */
export function* regretBatchedSteps(model: LatentModel, x: Tensor, noise: RegretNoise, o: RegretOptions & { group?: number } = {}): Steps<RegretResult> {
  const s = settings(o);
  checkNoise(model, x, noise, s.steps, s.k);
  const db = o.decodeBatch ?? defaultDecodeBatch(model);
  const b = x.shape[0]!;
  const group = Math.min(o.group ?? b, b);
  if (!Number.isInteger(group) || group < 1) throw new OodgenError(`likelihood-regret: group must be a positive integer, got ${o.group}`);
  if (model.encoder.parameters().length === 0) throw new OodgenError('likelihood-regret: the encoder has no parameters');
  return yield* withFrozenModel(model, function* () {
    // The NLL before, a group at a time: on a DCGAN model, K = 50 over a batch of 100 is seconds of work, and a
    // pause between groups keeps an interrupt waiting about as long as one group's final IWAE.
    const before = new Float32Array(b);
    for (let g0 = 0; g0 < b; g0 += group) {
      const g = Math.min(group, b - g0);
      before.set(noGrad(() => tidy(() => nllBefore(model, narrow(x, 0, g0, g), contiguous(narrow(noise.iwae, 1, g0, g)), s.k, db))), g0);
      yield;
    }
    const after = new Float32Array(b);
    for (let g0 = 0; g0 < b; g0 += group) {
      const g = Math.min(group, b - g0);
      const enc = new StackedEncoder(model.encoder, g);
      const opt = new Adam(enc.parameters(), { lr: s.lr, weightDecay: s.weightDecay });
      const xg = keep(tidy(() => contiguous(narrow(x, 0, g0, g)))); // (G, C, H, W)
      try {
        for (let t = 0; t < s.steps; t++) {
          tidy(() => {
            const { mu, logvar } = posteriorOf(enc.forward(xg));
            const eps = view(narrow(narrow(noise.train, 0, t, 1), 1, g0, g), [g, -1]); // (G, Z)
            negElbo(model, xg, mu, logvar, eps).backward();
            opt.step();
            opt.zeroGrad();
          });
          yield;
        }
        const a = noGrad(() => tidy(() => {
          const { mu, logvar } = posteriorOf(enc.forward(xg));
          return iwaeNll(model, xg, mu, logvar, contiguous(narrow(noise.iwae, 1, g0, g)), s.k, db).toFloat32Array();
        }));
        after.set(a, g0);
      } finally {
        opt.dispose();
        enc.dispose();
        xg.dispose();
      }
    }
    return result(before, after);
  });
}

// ---- Detector (registered in builtin.ts) ----

export class LikelihoodRegretDetector implements Detector {
  readonly name = 'likelihood-regret';
  readonly description: string;
  readonly opts: Required<Omit<RegretOptions, 'decodeBatch'>> & { decodeBatch?: number };
  readonly mode: 'batched' | 'loop';
  readonly group: number;
  readonly seed: number;
  private readonly noise: Noise;
  constructor(readonly model: LatentModel, o: Record<string, unknown> = {}) {
    this.opts = {
      steps: intOption(o.steps, 100, 'likelihood-regret: steps', 0),
      lr: numOption(o.lr, 2e-4, 'likelihood-regret: lr'),
      weightDecay: numOption(o.weightDecay, 5e-5, 'likelihood-regret: weight decay', (v) => v >= 0),
      k: intOption(o.k, 50, 'likelihood-regret: K'),
      ...(o.decodeBatch !== undefined ? { decodeBatch: intOption(o.decodeBatch, 0, 'decodeBatch') } : {}),
    };
    const m = o.regretMode ?? 'batched';
    if (m !== 'batched' && m !== 'loop') throw new OodgenError(`--regret-mode must be batched or loop, got '${String(m)}'`);
    this.mode = m;
    this.group = intOption(o.group, 32, 'likelihood-regret: group');
    this.seed = intOption(o.seed, 0, 'likelihood-regret: seed', 0);
    this.noise = new Noise(this.seed);
    this.description = `NLL(x) - NLL after ${this.opts.steps} Adam steps (lr ${this.opts.lr}, wd ${this.opts.weightDecay}) of an encoder copy on x, IWAE K = ${this.opts.k} (Xiao et al. 2020)`;
  }
  evaluate(x: Tensor): ScoreBatch {
    return drain(this.evaluateSteps(x));
  }
  /** evaluate() pausing after every Adam step (an abort frees the noise, the encoder copies and their Adam state). */
  *evaluateSteps(x: Tensor): Steps<ScoreBatch> {
    const b = x.shape[0]!, z = this.model.config.zDim, dev = this.model.device;
    const noise = { train: keep(this.noise.randn([this.opts.steps, b, z], dev)), iwae: keep(this.noise.randn([this.opts.k, b, z], dev)) };
    try {
      const r = this.mode === 'loop' ? yield* regretLoopSteps(this.model, x, noise, this.opts) : yield* regretBatchedSteps(this.model, x, noise, { ...this.opts, group: this.group });
      return { score: r.regret, columns: { regret: r.regret, nll_before: r.before, nll_after: r.after } };
    } finally {
      noise.train.dispose();
      noise.iwae.dispose();
    }
  }
  score(x: Tensor): Float32Array { return this.evaluate(x).score; }
  settings(): Record<string, unknown> { return { ...this.opts, mode: this.mode, group: this.group, seed: this.seed, bn: 'running statistics throughout (the paper\'s eval mode), whatever the BN mode' }; }
}

export const likelihoodRegretSpec: DetectorSpec = {
  name: 'likelihood-regret',
  title: 'likelihood regret: NLL(x) minus NLL after fine-tuning a copy of the encoder on x alone (100 Adam steps, decoder frozen)',
  reference: 'Xiao, Yan & Amit, "Likelihood Regret: An Out-of-Distribution Detection Score for Variational Auto-encoder", NeurIPS 2020',
  granularity: 'sample',
  needs: ['encode', 'posterior', 'decode', 'decoder-likelihood'],
  options: {
    steps: 'Adam steps per image (default 100)', lr: 'Adam learning rate (default 2e-4)', weightDecay: 'Adam L2 weight decay (default 5e-5)',
    k: 'IWAE importance samples K of the NLLs (default 50)', regretMode: 'batched (default; stacked encoder copies) | loop (per image)',
    group: 'images optimised together in batched mode (default 32)', seed: 'noise seed',
  },
  columns: { regret: 'nats per image', nll_before: 'nats per image (IWAE)', nll_after: 'nats per image (IWAE)' },
  axis: 'likelihood regret (nats)',
  units: 'nats per image',
  create: ({ model, options }) => new LikelihoodRegretDetector(latent(model, "score 'likelihood-regret'"), options),
};
