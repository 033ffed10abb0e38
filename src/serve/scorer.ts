// Per-sample scoring for the gate. A served score must not depend on the other requests that happen to share its
// micro-batch, so:
//  - BatchNorm always uses its running statistics (BN mode 'eval'); batch-statistics modes (enc, dec, both; Chen
//    2021 section 3.3.5) make a score a function of the batch and are refused;
//  - the Monte-Carlo scores (ELBO, components, IWAE, bits/dim) use one fixed noise bank eps (n, 1, Z), drawn once
//    from the seed and broadcast over the batch: every image gets the same n posterior samples whatever its
//    position and batch, so the same image always gets the same score (the library's batch driver instead draws
//    fresh noise per batch, which is right for a dataset and wrong for a gate).
// The formulas are the library's (src/scores): this file only fixes the noise and the BN mode.
import { Tensor, keep, tidy, noGrad, expand, sub, logsumexp } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import { applyBnMode, parseBnMode, type BnMode } from '../scores/bn-mode.js';
import { elboComponents } from '../scores/components.js';
import { iwaeLogWeights } from '../scores/iwae.js';
import { bitsPerDim } from '../scores/bpd.js';
import { reconstructionError, reconstruct } from '../scores/reconstruction.js';
import { Noise, defaultDecodeBatch } from '../scores/latent.js';
import { OodgenError } from '../errors.js';

/** Detectors the gate can serve: each scores one image on its own once BatchNorm uses running statistics. */
export const SERVABLE_DETECTORS = ['rec', 'elbo', 'components', 'iwae', 'bpd'] as const;
export type ServableDetector = (typeof SERVABLE_DETECTORS)[number];

export interface ScorerOptions {
  /** IWAE / bpd importance samples K (default 50). */
  k?: number;
  /** ELBO / components reconstruction samples L (default 1). */
  samples?: number;
  /** Seed of the fixed noise bank (default 0). */
  seed?: number;
  /** BatchNorm mode; only 'eval' can be served (default). */
  bn?: BnMode | string;
}

const DESCRIPTIONS: Record<ServableDetector, string> = {
  rec: 'reconstruction error ||x - mean(decode(mu(x)))||^2 summed over pixels',
  elbo: 'negative ELBO, -(E_q[log p(x|z)] - KL(q(z|x)||N(0,I))) (Kingma & Welling 2014), nats',
  components: 'negative ELBO from its components reconstruction + prior + entropy (Chen 2021 eq. 3.1-3.4), nats',
  iwae: 'negative IWAE log-likelihood -[logsumexp_k log w_k - log K] (Burda et al. 2016), nats',
  bpd: 'bits per dimension of the IWAE log-likelihood (Theis et al. 2016)',
};

export function parseServableDetector(name: string, model: LatentModel): ServableDetector {
  if (!(SERVABLE_DETECTORS as readonly string[]).includes(name)) {
    throw new OodgenError(`detector '${name}' cannot be served: the gate serves per-sample detectors only (${SERVABLE_DETECTORS.join(', ')})`);
  }
  if (name !== 'rec' && model.config.kind === 'ae') {
    throw new OodgenError(`detector '${name}' needs a likelihood model; this run is an autoencoder, which only has 'rec'`);
  }
  return name as ServableDetector;
}

export class PerSampleScorer {
  readonly name: ServableDetector;
  readonly description: string;
  readonly k: number;
  readonly samples: number;
  readonly seed: number;
  /** eps (n, 1, Z) on the model's device, kept until dispose(). */
  private bank: Tensor | null = null;

  constructor(readonly model: LatentModel, name: string, o: ScorerOptions = {}) {
    const bn = parseBnMode(o.bn ?? 'eval');
    if (bn !== 'eval') {
      throw new OodgenError(`BatchNorm mode '${bn}' normalises with batch statistics, so a score would depend on the other requests in its micro-batch; the gate serves only --bn eval (running statistics)`);
    }
    this.name = parseServableDetector(name, model);
    this.description = DESCRIPTIONS[this.name];
    this.k = o.k ?? 50;
    this.samples = o.samples ?? 1;
    this.seed = o.seed ?? 0;
    if (!Number.isInteger(this.k) || this.k < 1) throw new OodgenError(`k must be a positive integer, got ${o.k}`);
    if (!Number.isInteger(this.samples) || this.samples < 1) throw new OodgenError(`samples must be a positive integer, got ${o.samples}`);
    const n = this.name === 'iwae' || this.name === 'bpd' ? this.k : this.name === 'rec' ? 0 : this.samples;
    if (n > 0) this.bank = keep(tidy(() => new Noise(this.seed).randn([n, 1, model.config.zDim], model.device)));
  }

  /** The settings that fix the numbers (a calibration is valid only for the same ones). */
  settings(): Record<string, unknown> {
    const s: Record<string, unknown> = { detector: this.name, bn: 'eval' };
    if (this.name === 'iwae' || this.name === 'bpd') Object.assign(s, { k: this.k, seed: this.seed });
    if (this.name === 'elbo' || this.name === 'components') Object.assign(s, { samples: this.samples, seed: this.seed });
    return s;
  }

  private inEval<T>(fn: () => T): T {
    const restore = applyBnMode(this.model, 'eval');
    try {
      return noGrad(() => tidy(fn));
    } finally {
      restore();
    }
  }

  /** Scores of a batch x (B, C, H, W) on the model's device; higher = more OoD. */
  score(x: Tensor): Float32Array {
    const b = x.shape[0]!;
    return this.inEval(() => {
      if (this.name === 'rec') return reconstructionError(this.model, x).toFloat32Array();
      const bank = this.bank!;
      const eps = expand(bank, [bank.shape[0]!, b, bank.shape[2]!]); // (n, B, Z), the same samples for every image
      const decodeBatch = defaultDecodeBatch(this.model);
      if (this.name === 'elbo' || this.name === 'components') {
        const c = elboComponents(this.model, x, { samples: this.samples, eps, decodeBatch });
        return c.elbo.toFloat32Array().map((v) => -v);
      }
      // L_K = logsumexp_k log w_k - log K (Burda et al. 2016, eq. 8)
      const ll = sub(logsumexp(iwaeLogWeights(this.model, x, { k: this.k, eps, decodeBatch }), 0), Math.log(this.k)).toFloat32Array();
      if (this.name === 'iwae') return ll.map((v) => -v);
      const [, c, h, w] = x.shape as [number, number, number, number];
      return ll.map((v) => bitsPerDim(v, c * h * w, this.model.continuousLikelihood));
    });
  }

  /** Decoder mean at the posterior mean code (B, C, H, W) in [0, 1], as a CPU Float32Array. */
  reconstruct(x: Tensor): Float32Array {
    return this.inEval(() => reconstruct(this.model, x).toFloat32Array());
  }

  dispose(): void {
    this.bank?.dispose();
    this.bank = null;
  }
}
