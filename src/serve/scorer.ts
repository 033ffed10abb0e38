// Per-sample scoring for the gate, over the detector registry (src/scores/registry.ts). A served score must not
// depend on the other requests that happen to share its micro-batch, so:
//  - only detectors of granularity 'sample' are served; a 'batch' detector (one score per group, e.g. a typicality
//    test) is refused;
//  - BatchNorm always uses its running statistics (BN mode 'eval'); batch-statistics modes (enc, dec, both; Chen
//    2021 section 3.3.5) make a score a function of the batch and are refused;
//  - the Monte-Carlo built-ins (elbo, components, iwae, bpd) use one fixed noise bank eps (n, 1, Z), drawn once
//    from the seed and broadcast over the batch: every image gets the same n posterior samples whatever its
//    position and batch, so the same image always gets the same score. (The library's detectors draw fresh noise
//    per batch from a running generator, which is right for a dataset and wrong for a gate.) Other registered
//    detectors score through their own evaluate(); the gate checks at calibration that their scores do not move
//    with batch-mates (gate.ts) and refuses them otherwise;
//  - a detector that fits on ID data loads its fitted state from the run folder (detectors/NAME.*).
// The formulas are the library's: this file only fixes the noise and the BN mode.
import { Tensor, keep, tidy, noGrad, expand, sub, logsumexp } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import { applyBnMode, parseBnMode, type BnMode } from '../scores/bn-mode.js';
import { createDetector, detectorSpec } from '../scores/registry.js';
import type { Detector, DetectorSpec } from '../scores/types.js';
import { elboComponents } from '../scores/components.js';
import { iwaeLogWeights } from '../scores/iwae.js';
import { bitsPerDim } from '../scores/bpd.js';
import { reconstructionError, reconstruct } from '../scores/reconstruction.js';
import { Noise, defaultDecodeBatch } from '../scores/latent.js';
import { OodgenError } from '../errors.js';

/** Built-ins whose posterior noise the gate fixes per sample (see above). */
const FIXED_NOISE = ['rec', 'elbo', 'components', 'iwae', 'bpd'] as const;
type FixedNoise = (typeof FIXED_NOISE)[number];

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

/** The spec of a detector the gate can serve; a clear OodgenError otherwise. */
export function servableSpec(name: string): DetectorSpec {
  const spec = detectorSpec(name);
  if (spec.granularity !== 'sample') {
    throw new OodgenError(`detector '${name}' scores whole batches (granularity '${spec.granularity}'), so its answer for an image depends on the other images; the gate serves only per-sample detectors`);
  }
  return spec;
}

export class PerSampleScorer {
  readonly name: string;
  readonly spec: DetectorSpec;
  readonly description: string;
  /** The registry's detector (capabilities checked); scores through it unless the noise is fixed here. */
  readonly detector: Detector;
  readonly k: number;
  readonly samples: number;
  readonly seed: number;
  private readonly fixed: FixedNoise | null;
  /** eps (n, 1, Z) on the model's device, kept until dispose(). */
  private bank: Tensor | null = null;

  constructor(readonly model: LatentModel, name: string, o: ScorerOptions = {}) {
    const bn = parseBnMode(o.bn ?? 'eval');
    if (bn !== 'eval') {
      throw new OodgenError(`BatchNorm mode '${bn}' normalises with batch statistics, so a score would depend on the other requests in its micro-batch; the gate serves only --bn eval (running statistics)`);
    }
    this.spec = servableSpec(name);
    this.name = this.spec.name;
    this.k = o.k ?? 50;
    this.samples = o.samples ?? 1;
    this.seed = o.seed ?? 0;
    if (!Number.isInteger(this.k) || this.k < 1) throw new OodgenError(`k must be a positive integer, got ${o.k}`);
    if (!Number.isInteger(this.samples) || this.samples < 1) throw new OodgenError(`samples must be a positive integer, got ${o.samples}`);
    // The registry checks the model's capabilities (an AE has no posterior, so only 'rec').
    this.detector = createDetector(this.name, model, { k: this.k, samples: this.samples, seed: this.seed });
    this.description = `${this.spec.title} (${this.spec.reference})`;
    this.fixed = (FIXED_NOISE as readonly string[]).includes(this.name) ? (this.name as FixedNoise) : null;
    const n = this.fixed === 'iwae' || this.fixed === 'bpd' ? this.k : this.fixed === 'elbo' || this.fixed === 'components' ? this.samples : 0;
    if (n > 0) this.bank = keep(tidy(() => new Noise(this.seed).randn([n, 1, model.config.zDim], model.device)));
  }

  /** The settings that fix the numbers (a calibration is valid only for the same ones). */
  settings(): Record<string, unknown> {
    const s: Record<string, unknown> = { detector: this.name, bn: 'eval' };
    if (this.fixed === 'iwae' || this.fixed === 'bpd') Object.assign(s, { k: this.k, seed: this.seed, noise: 'fixed per sample' });
    else if (this.fixed === 'elbo' || this.fixed === 'components') Object.assign(s, { samples: this.samples, seed: this.seed, noise: 'fixed per sample' });
    else if (!this.fixed) Object.assign(s, this.detector.settings());
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
      if (!this.fixed) {
        const s = this.detector.score(x);
        if (s.length !== b) throw new OodgenError(`detector '${this.name}' returned ${s.length} scores for ${b} images`);
        return s;
      }
      if (this.fixed === 'rec') return reconstructionError(this.model, x).toFloat32Array();
      const bank = this.bank!;
      const eps = expand(bank, [bank.shape[0]!, b, bank.shape[2]!]); // (n, B, Z), the same samples for every image
      const decodeBatch = defaultDecodeBatch(this.model);
      if (this.fixed === 'elbo' || this.fixed === 'components') {
        const c = elboComponents(this.model, x, { samples: this.samples, eps, decodeBatch });
        return c.elbo.toFloat32Array().map((v) => -v);
      }
      // L_K = logsumexp_k log w_k - log K (Burda et al. 2016, eq. 8)
      // bpd: the bound on log P(x8) of the 8-bit image (scores/bpd.ts), iwae: on the decoder's likelihood.
      const image = this.fixed === 'bpd';
      const ll = sub(logsumexp(iwaeLogWeights(this.model, x, { k: this.k, eps, decodeBatch, image }), 0), Math.log(this.k)).toFloat32Array();
      if (this.fixed === 'iwae') return ll.map((v) => -v);
      const [, c, h, w] = x.shape as [number, number, number, number];
      return ll.map((v) => bitsPerDim(v, c * h * w));
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
