// DoSE, density of summary statistics (Morningstar, Ham, Gallagher, Lakshminarayanan, Alemi & Dillon, AISTATS 2021,
// "Density of States Estimation for Out-of-Distribution Detection"). A generative model's likelihood alone fails on
// simple inputs; several of its per-image summary statistics together are typical or not. For the VAE:
//
//   T(x) = ( log p(x)        IWAE estimate (K samples)
//            rate  R(x)       KL(q(z|x) || p(z))
//            distortion D(x)  -E_q[log p(x|z)]  (L-sample Monte Carlo)
//            entropy H(x)     -E_q[log q(z|x)]  (posterior entropy, analytic)
//            cross-entropy C(x) -E_q[log p(z)]  (of the posterior against the prior, analytic) )
//
// For a flow (Glow, where the paper also reports DoSE) the statistics are those of its exact likelihood: log p(x) and
// the two terms of the change of variables it is the sum of, log p(z) of the latent under the prior and
// log |det df/dx| (model.logProbTerms; no sampling, no K).
//
// A density of T is fitted on held-out ID statistics; score(x) = -log density(T(x)) (higher = more OoD). This is
// DoSE_KDE: one 1-D Gaussian KDE per statistic (Scott's rule, kde.ts), the statistics treated as independent, so
// log density = sum_j log KDE_j(T_j(x)).
import { OodgenError } from '../errors.js';
import { fitKde1d, kdeLogDensity, type Kde1d } from './kde.js';
import type { Tensor } from '../engine/index.js';
import { noGrad, tidy } from '../engine/index.js';
import type { GenerativeModel, LatentModel } from '../models/types.js';
import type { Detector, DetectorSpec, DetectorState, FitContext, ImageSource, ScoreBatch } from './types.js';
import { Noise } from './latent.js';
import { elboComponents } from './components.js';
import { collectColumns } from './collect.js';
import { f64, intOption, iwaeColumn, latent, likelihoodEstimator, likelihoodModel, notFitted, stateArray } from './fitted.js';

export const DOSE_STATS = ['loglik', 'rate', 'distortion', 'entropy', 'crossent'] as const;
/** A flow's statistics: its exact log-likelihood and the change-of-variables terms that sum to it. */
export const FLOW_DOSE_STATS = ['loglik', 'logpz', 'logdet'] as const;
export type DoseStat = (typeof DOSE_STATS)[number] | (typeof FLOW_DOSE_STATS)[number];

/** The statistics from the components detector's columns and an IWAE log-likelihood. */
export function doseStatistics(
  components: { reconstruction: ArrayLike<number>; prior: ArrayLike<number>; entropy: ArrayLike<number> },
  loglik: ArrayLike<number>,
): Record<DoseStat, Float32Array> {
  const n = loglik.length;
  const out = Object.fromEntries(DOSE_STATS.map((k) => [k, new Float32Array(n)])) as Record<DoseStat, Float32Array>;
  for (let i = 0; i < n; i++) {
    out.loglik[i] = loglik[i]!;
    out.rate[i] = -(components.prior[i]! + components.entropy[i]!);
    out.distortion[i] = -components.reconstruction[i]!;
    out.entropy[i] = components.entropy[i]!;
    out.crossent[i] = -components.prior[i]!;
  }
  return out;
}

export interface DoseState {
  stats: DoseStat[];
  kde: Record<string, Kde1d>;
  n: number;
}

export function fitDose(stats: Record<string, ArrayLike<number>>, use: readonly DoseStat[] = DOSE_STATS): DoseState {
  const kde: Record<string, Kde1d> = {};
  for (const k of use) {
    if (!stats[k]) throw new OodgenError(`dose: statistic '${k}' missing`);
    kde[k] = fitKde1d(stats[k], `dose: KDE of '${k}'`);
  }
  return { stats: [...use], kde, n: stats[use[0]!]!.length };
}

/** -sum_j log KDE_j(T_j(x)) per image, and the per-statistic log-densities. */
export function scoreDose(state: DoseState, stats: Record<string, ArrayLike<number>>): { score: Float32Array; logDensity: Record<string, Float32Array> } {
  const n = stats[state.stats[0]!]!.length;
  const score = new Float32Array(n);
  const logDensity: Record<string, Float32Array> = {};
  for (const k of state.stats) {
    const col = stats[k];
    if (!col || col.length !== n) throw new OodgenError(`dose: statistic '${k}' missing or of the wrong length`);
    const ld = (logDensity[k] = new Float32Array(n));
    for (let i = 0; i < n; i++) {
      ld[i] = kdeLogDensity(state.kde[k]!, col[i]!);
      score[i] = score[i]! - ld[i]!;
    }
  }
  return { score, logDensity };
}

// ---- Detector (registered in builtin.ts) ----

export class DoseDetector implements Detector {
  readonly name = 'dose';
  readonly description: string;
  private state: DoseState | null = null;
  private meta: Record<string, unknown> = {};
  private readonly noise: Noise;
  readonly k: number;
  readonly samples: number;
  readonly seed: number;
  /** The statistics this model gives: a flow's (exact likelihood), or the VAE's. */
  readonly stats: readonly DoseStat[];
  private readonly flow: boolean;
  constructor(readonly model: GenerativeModel, o: Record<string, unknown> = {}) {
    this.k = intOption(o.k, 50, 'dose: K');
    this.samples = intOption(o.samples, 1, 'dose: samples');
    this.seed = intOption(o.seed, 0, 'dose: seed', 0);
    this.noise = new Noise(this.seed);
    this.flow = likelihoodEstimator(model) === 'exact';
    if (this.flow && typeof model.logProbTerms !== 'function') {
      throw new OodgenError(`dose: a ${model.config.kind} model has an exact likelihood but not its change-of-variables terms (logProbTerms), which DoSE's flow statistics are`);
    }
    if (!this.flow) latent(model, "score 'dose'");
    this.stats = this.flow ? FLOW_DOSE_STATS : DOSE_STATS;
    this.description = `-sum_j log KDE_j(T_j(x)) over ${this.stats.join(', ')} (${this.flow ? 'exact log p' : `IWAE K = ${this.k}`}; 1-D Gaussian KDEs, Scott's rule; Morningstar et al. 2021)`;
  }
  get fitted(): boolean { return this.state !== null; }
  /** The summary statistics of a batch. */
  statistics(x: Tensor): Partial<Record<DoseStat, Float32Array>> {
    if (this.flow) {
      return tidy(() => noGrad(() => {
        const t = this.model.logProbTerms!(x);
        const logpz = t.logpz.toFloat32Array(), logdet = t.logdet.toFloat32Array();
        return { loglik: logpz.map((v, i) => v + logdet[i]!), logpz, logdet };
      }));
    }
    const model = this.model as LatentModel;
    const c = tidy(() => {
      const r = elboComponents(model, x, { samples: this.samples, eps: this.noise });
      return { reconstruction: r.reconstruction.toFloat32Array(), prior: r.prior.toFloat32Array(), entropy: r.entropy.toFloat32Array() };
    });
    return doseStatistics(c, iwaeColumn(model, x, this.k, this.noise));
  }
  async fit(id: ImageSource, ctx: FitContext = {}): Promise<void> {
    const stats = await collectColumns(this.model, id, (x) => this.statistics(x) as Record<string, Float32Array>, { batchSize: ctx.batchSize, signal: ctx.signal });
    this.state = fitDose(stats, this.stats);
    this.meta = { stats: this.state.stats, n: id.shape[0], k: this.k, samples: this.samples, data: ctx.data ?? id.name ?? 'in-distribution images' };
  }
  saveState(): DetectorState {
    if (!this.state) throw notFitted(this.name);
    const arrays: DetectorState['arrays'] = {};
    for (const k of this.state.stats) arrays[k] = f64(this.state.kde[k]!.points);
    return { meta: { ...this.meta, bandwidth: Object.fromEntries(this.state.stats.map((k) => [k, this.state!.kde[k]!.bandwidth])) }, arrays };
  }
  loadState(s: DetectorState): void {
    const stats = s.meta.stats as DoseStat[] | undefined;
    const bw = s.meta.bandwidth as Record<string, number> | undefined;
    if (!Array.isArray(stats) || !bw) throw new OodgenError('not a DoSE state (no statistics or bandwidths)');
    const bad = stats.filter((k) => !(this.stats as readonly string[]).includes(k));
    if (bad.length) throw new OodgenError(`DoSE statistics ${bad.join(', ')} are not this ${this.flow ? 'flow' : 'VAE'}'s (${this.stats.join(', ')}): the state was fitted on another kind of model`);
    const kde: Record<string, Kde1d> = {};
    for (const k of stats) kde[k] = { points: [...stateArray(s, k)], bandwidth: bw[k]! };
    this.state = { stats, kde, n: Number(s.meta.n) };
    this.meta = s.meta;
  }
  evaluate(x: Tensor): ScoreBatch {
    if (!this.state) throw notFitted(this.name);
    const stats = this.statistics(x) as Record<string, Float32Array>;
    const r = scoreDose(this.state, stats);
    return { score: r.score, columns: { dose: r.score, ...stats } };
  }
  score(x: Tensor): Float32Array { return this.evaluate(x).score; }
  settings(): Record<string, unknown> { return { estimator: likelihoodEstimator(this.model), k: this.k, samples: this.samples, seed: this.seed, kde: '1-D Gaussian per statistic, Scott bandwidth', stats: [...this.stats] }; }
}

export const doseSpec: DetectorSpec = {
  name: 'dose',
  title: 'DoSE: -log density of the summary statistics (VAE: log p, rate, distortion, entropy, cross-entropy; flow: log p, log p(z), log |det J|) under KDEs fitted on ID data',
  reference: 'Morningstar, Ham, Gallagher, Lakshminarayanan, Alemi & Dillon, "Density of States Estimation for Out-of-Distribution Detection", AISTATS 2021',
  granularity: 'sample',
  needs: ['likelihood'],
  fits: true,
  options: { k: 'IWAE importance samples K (default 50; VAE only)', samples: 'posterior samples of the distortion (default 1; VAE only)', seed: 'noise seed' },
  columns: {
    dose: '-sum of log KDE densities', loglik: 'nats per image (exact for a flow, else IWAE)', rate: 'KL, nats', distortion: '-E_q log p(x|z), nats',
    entropy: 'posterior entropy, nats', crossent: '-E_q log p(z), nats', logpz: 'flow: log p(z) under the prior, nats', logdet: 'flow: log |det J|, nats',
  },
  axis: 'DoSE: -log density of the summary statistics',
  units: '-log density (sum over statistics)',
  create: ({ model, options }) => new DoseDetector(likelihoodModel(model, "score 'dose'"), options),
};
