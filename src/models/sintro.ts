// Soft-IntroVAE: T. Daniel and A. Tamar, "Soft-IntroVAE: Analyzing and Improving the Introspective Variational
// Autoencoder", CVPR 2021 (arXiv:2012.13253). The model is a VAE (Gaussian posterior, Gaussian decoder mean); what
// differs is the training objective: the encoder doubles as a discriminator, pushing the soft exponential ELBO
//   expELBO(x) = exp(-2 * scale * (beta_rec * SSE(x, D(E(x))) + beta_neg * KL(E(x))))
// of fakes (prior samples D(z), z ~ N(0, I), and reconstructions D(E(x))) towards 0, while the decoder is trained to
// make those fakes look real to the encoder (small KL, good re-reconstruction weighted by gamma_r).
//
// This follows the authors' official training loop (taldatech/soft-intro-vae-pytorch, train_soft_intro_vae.py):
// two Adam optimizers (encoder, decoder; lr 2e-4), scale = 1 / (C*H*W), the reconstruction error is the per-sample
// sum of squared errors averaged over the batch, KL is summed over z and averaged over the batch, the encoder step
// freezes the decoder and the decoder step freezes the encoder. Recommended values (the authors' README):
// MNIST / Fashion-MNIST: z = 32, batch 128, beta_kl = beta_rec = 1, beta_neg = 256; CIFAR-10 / SVHN: z = 128,
// batch 32, beta_kl = beta_rec = 1, beta_neg = 256; gamma_r = 1e-8 everywhere.
//
// Its likelihood for OoD scoring is the Gaussian one of the VAE. With beta_rec = 1 the SSE reconstruction term is
// -log N(x; mu, sigma^2 = 0.5) up to a constant, so the default sigma2 of a Soft-IntroVAE is 0.5.
import type { Tensor } from '../engine/tensor.js';
import type { Generator } from '../engine/random.js';
import { detach, exp, mean, mul, add, square, sub } from '../engine/ops/index.js';
import { noGrad } from '../engine/autograd.js';
import type { ModelConfig, ModelTrainer, TrainerOptions } from './types.js';
import { VAE, cpuNoise, readTerms, reparameterize, type ModelInitOptions } from './vae.js';
import { Adam } from '../optim/adam.js';
import { OodgenError } from '../errors.js';
import type { ModelFamily } from './registry.js';
import { klStdNormal, sumPerSample } from './likelihoods.js';

export interface SintroHyper {
  betaKl: number;
  betaRec: number;
  betaNeg: number;
  /** Weight of the re-reconstruction of fakes in the decoder step. */
  gammaR: number;
}

export const SINTRO_HYPER_DEFAULTS: SintroHyper = { betaKl: 1, betaRec: 1, betaNeg: 256, gammaR: 1e-8 };

/** The authors' recommended hyper-parameters per dataset family (the Soft-IntroVAE row of the defaults table). */
export function sintroDefaults(dataset: string): SintroHyper & { zDim: number; batchSize: number; lr: number } {
  const d = dataset.toLowerCase();
  if (/mnist/.test(d)) return { betaKl: 1, betaRec: 1, betaNeg: 256, gammaR: 1e-8, zDim: 32, batchSize: 128, lr: 2e-4 };
  // CIFAR-10 / SVHN, also used for 32x32 CelebA here.
  return { betaKl: 1, betaRec: 1, betaNeg: 256, gammaR: 1e-8, zDim: 128, batchSize: 32, lr: 2e-4 };
}

/**
 * Why --sigma2 learned is refused: the authors' losses are SSE terms with a fixed scale, so a learned log-variance
 * would get no gradient from sintroStep and belong to neither optimizer (it would stay at its initial value).
 */
export const SINTRO_LEARNED_SIGMA2 = "Soft-IntroVAE cannot learn the decoder variance (--sigma2 learned): the authors' losses are SSE terms with a fixed variance, so log_sigma2 would belong to neither of its two optimizers; give a fixed --sigma2 (default 0.5)";

export class SoftIntroVAE extends VAE {
  constructor(config: ModelConfig, o: ModelInitOptions = {}) {
    if (config.decoder !== 'gaussian') throw new Error('Soft-IntroVAE: only the gaussian decoder (SSE reconstruction) is supported');
    if (config.sigma2 === 'learned') throw new OodgenError(SINTRO_LEARNED_SIGMA2);
    super({ ...config, sigma2: config.sigma2 ?? 0.5 }, o);
  }

  /** Two Adams (encoder, decoder) and the authors' alternating step (sintroStep). */
  override createTrainer(o: TrainerOptions): ModelTrainer {
    const h = { ...SINTRO_HYPER_DEFAULTS, ...(o.hyper ?? {}) } as SintroHyper;
    for (const k of Object.keys(h) as (keyof SintroHyper)[]) {
      if (!(h[k] >= 0 && Number.isFinite(h[k]))) throw new OodgenError(`Soft-IntroVAE: ${k} must be a number >= 0, got ${h[k]}`);
    }
    const encoder = new Adam(this.encoder.parameters(), { lr: o.lr, betas: o.betas, capturable: o.capturable });
    const decoder = new Adam(this.decoder.parameters(), { lr: o.lr, betas: o.betas, capturable: o.capturable });
    const stepTensors = (x: Tensor, generator: Generator) => {
      const r = sintroStep(this, x, h, { encoder, decoder }, generator);
      return {
        loss: r.lossD, lossE: r.lossE, rec: r.recErr, kl: r.klReal, klFake: r.klFake,
        klRec: r.klRec, expElboFake: r.expElboFake, expElboRec: r.expElboRec,
      };
    };
    return {
      optimizers: { encoder, decoder },
      stepTensors,
      step: (x, generator) => readTerms(stepTensors(x, generator)),
      dispose: () => { encoder.dispose(); decoder.dispose(); },
    };
  }
}

/** Per-sample sum of squared errors (B,). */
export const sse = (x: Tensor, y: Tensor): Tensor => sumPerSample(square(sub(x, y)));

function setRequiresGrad(ps: Tensor[], v: boolean): void {
  for (const p of ps) p.requiresGrad = v;
}

export interface SintroStepTerms {
  lossE: Tensor;
  lossD: Tensor;
  recErr: Tensor;
  klReal: Tensor;
  klFake: Tensor;
  klRec: Tensor;
  expElboFake: Tensor;
  expElboRec: Tensor;
}

/**
 * One Soft-IntroVAE iteration: encoder update, then decoder update (each: zero grads, backward, step).
 * Run it inside tidy(). All noise comes from `generator` in a fixed order, so a run is reproducible and resumable.
 */
export function sintroStep(
  model: VAE, x: Tensor, h: SintroHyper, opt: { encoder: { zeroGrad(): void; step(): void }; decoder: { zeroGrad(): void; step(): void } },
  generator?: Generator,
): SintroStepTerms {
  const [, c, hh, ww] = x.shape;
  const scale = 1 / (c * hh * ww);
  const b = x.shape[0];
  const encP = model.encoder.parameters(), decP = model.decoder.parameters();
  const noise = cpuNoise([b, model.config.zDim], x.device, generator);

  // ---- encoder step: decoder frozen ----
  setRequiresGrad(encP, true);
  setRequiresGrad(decP, false);
  const fake = noGrad(() => model.decode(noise));
  const real = model.encode(x);
  const z = reparameterize(real.mu, real.logvar!, generator);
  const rec = model.decode(z);
  const recErr = mean(sse(x, rec));
  const klReal = mean(klStdNormal(real.mu, real.logvar!));
  const recD = detach(rec);
  const pr = model.encode(recD);
  const recRec = model.decode(reparameterize(pr.mu, pr.logvar!, generator));
  const pf = model.encode(fake);
  const recFake = model.decode(reparameterize(pf.mu, pf.logvar!, generator));
  const klRecE = klStdNormal(pr.mu, pr.logvar!);
  const klFakeE = klStdNormal(pf.mu, pf.logvar!);
  // The official code's target here is the non-detached reconstruction.
  const recRecErrE = sse(rec, recRec);
  const fakeRecErrE = sse(fake, recFake);
  const expElboRec = mean(exp(mul(add(mul(recRecErrE, h.betaRec), mul(klRecE, h.betaNeg)), -2 * scale)));
  const expElboFake = mean(exp(mul(add(mul(fakeRecErrE, h.betaRec), mul(klFakeE, h.betaNeg)), -2 * scale)));
  const lossE = add(mul(add(mul(recErr, h.betaRec), mul(klReal, h.betaKl)), scale), mul(add(expElboRec, expElboFake), 0.25));
  opt.encoder.zeroGrad();
  lossE.backward();
  opt.encoder.step();

  // ---- decoder step: encoder frozen ----
  setRequiresGrad(encP, false);
  setRequiresGrad(decP, true);
  const fake2 = model.decode(noise);
  const rec2 = model.decode(detach(z));
  const recErr2 = mean(sse(x, rec2));
  const qr = model.encode(rec2);
  const zRec = reparameterize(qr.mu, qr.logvar!, generator);
  const qf = model.encode(fake2);
  const zFake = reparameterize(qf.mu, qf.logvar!, generator);
  const recRec2 = model.decode(detach(zRec));
  const recFake2 = model.decode(detach(zFake));
  const lossRecRec = mean(sse(detach(rec2), recRec2));
  const lossFakeRec = mean(sse(detach(fake2), recFake2));
  const klRec = mean(klStdNormal(qr.mu, qr.logvar!));
  const klFake = mean(klStdNormal(qf.mu, qf.logvar!));
  const lossD = mul(add(add(mul(recErr2, h.betaRec), mul(add(klRec, klFake), 0.5 * h.betaKl)),
    mul(add(lossRecRec, lossFakeRec), h.gammaR * 0.5 * h.betaRec)), scale);
  opt.decoder.zeroGrad();
  lossD.backward();
  opt.decoder.step();
  setRequiresGrad(encP, true);
  opt.encoder.zeroGrad();
  opt.decoder.zeroGrad();
  return { lossE, lossD, recErr: recErr2, klReal, klFake, klRec, expElboFake, expElboRec };
}

export const sintroFamily: ModelFamily = {
  kind: 'sintro',
  title: 'Soft-IntroVAE: a VAE whose encoder also acts as a discriminator (two optimisers)',
  reference: 'Daniel & Tamar, "Soft-IntroVAE: Analyzing and Improving the Introspective Variational Autoencoder", CVPR 2021',
  capabilities: ['encode', 'posterior', 'decode', 'decoder-likelihood', 'sample', 'batchnorm'],
  decoders: ['gaussian'],
  hyperDoc: { betaKl: 'beta_kl (default 1)', betaRec: 'beta_rec (default 1)', betaNeg: 'beta_neg (default 256)', gammaR: 'gamma_r (default 1e-8)' },
  defaults: (dataset) => {
    const d = sintroDefaults(dataset);
    return { zDim: d.zDim, width: 64, batchSize: d.batchSize, lr: d.lr, hyper: { betaKl: d.betaKl, betaRec: d.betaRec, betaNeg: d.betaNeg, gammaR: d.gammaR } };
  },
  configProblems: (c) => [
    ...(c.decoder !== 'gaussian' ? ['Soft-IntroVAE trains with an SSE (gaussian) decoder only'] : []),
    ...(c.sigma2 === 'learned' ? [SINTRO_LEARNED_SIGMA2] : []),
  ],
  create: (config, init) => new SoftIntroVAE(config, init),
};
