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
// and a density of T fitted on held-out ID statistics; score(x) = -log density(T(x)) (higher = more OoD). This is
// DoSE_KDE: one 1-D Gaussian KDE per statistic (Scott's rule, kde.ts), the statistics treated as independent, so
// log density = sum_j log KDE_j(T_j(x)).
import { OodgenError } from '../errors.js';
import { fitKde1d, kdeLogDensity, type Kde1d } from './kde.js';
import type { Tensor } from '../engine/index.js';
import { tidy } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import type { Detector, DetectorSpec, DetectorState, FitContext, ImageSource, ScoreBatch } from './types.js';
import { Noise } from './latent.js';
import { elboComponents } from './components.js';
import { collectColumns } from './collect.js';
import { f64, intOption, iwaeColumn, latent, notFitted, stateArray } from './fitted.js';

export const DOSE_STATS = ['loglik', 'rate', 'distortion', 'entropy', 'crossent'] as const;
export type DoseStat = (typeof DOSE_STATS)[number];

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
  constructor(readonly model: LatentModel, o: Record<string, unknown> = {}) {
    this.k = intOption(o.k, 50, 'dose: K');
    this.samples = intOption(o.samples, 1, 'dose: samples');
    this.seed = intOption(o.seed, 0, 'dose: seed', 0);
    this.noise = new Noise(this.seed);
    this.description = `-sum_j log KDE_j(T_j(x)) over ${DOSE_STATS.join(', ')} (IWAE K = ${this.k}; 1-D Gaussian KDEs, Scott's rule; Morningstar et al. 2021)`;
  }
  get fitted(): boolean { return this.state !== null; }
  /** The summary statistics of a batch. */
  statistics(x: Tensor): Record<DoseStat, Float32Array> {
    const c = tidy(() => {
      const r = elboComponents(this.model, x, { samples: this.samples, eps: this.noise });
      return { reconstruction: r.reconstruction.toFloat32Array(), prior: r.prior.toFloat32Array(), entropy: r.entropy.toFloat32Array() };
    });
    return doseStatistics(c, iwaeColumn(this.model, x, this.k, this.noise));
  }
  fit(id: ImageSource, ctx: FitContext = {}): void {
    const stats = collectColumns(this.model, id, (x) => this.statistics(x), { batchSize: ctx.batchSize });
    this.state = fitDose(stats);
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
    const bad = stats.filter((k) => !(DOSE_STATS as readonly string[]).includes(k));
    if (bad.length) throw new OodgenError(`unknown DoSE statistics ${bad.join(', ')}`);
    const kde: Record<string, Kde1d> = {};
    for (const k of stats) kde[k] = { points: [...stateArray(s, k)], bandwidth: bw[k]! };
    this.state = { stats, kde, n: Number(s.meta.n) };
    this.meta = s.meta;
  }
  evaluate(x: Tensor): ScoreBatch {
    if (!this.state) throw notFitted(this.name);
    const stats = this.statistics(x);
    const r = scoreDose(this.state, stats);
    return { score: r.score, columns: { dose: r.score, ...stats } };
  }
  score(x: Tensor): Float32Array { return this.evaluate(x).score; }
  settings(): Record<string, unknown> { return { k: this.k, samples: this.samples, seed: this.seed, kde: '1-D Gaussian per statistic, Scott bandwidth', stats: [...DOSE_STATS] }; }
}

export const doseSpec: DetectorSpec = {
  name: 'dose',
  title: 'DoSE: -log density of the VAE summary statistics (log p, rate, distortion, entropy, cross-entropy) under KDEs fitted on ID data',
  reference: 'Morningstar, Ham, Gallagher, Lakshminarayanan, Alemi & Dillon, "Density of States Estimation for Out-of-Distribution Detection", AISTATS 2021',
  granularity: 'sample',
  needs: ['encode', 'posterior', 'decode', 'decoder-likelihood'],
  fits: true,
  options: { k: 'IWAE importance samples K (default 50)', samples: 'posterior samples of the distortion (default 1)', seed: 'noise seed' },
  columns: {
    dose: '-sum of log KDE densities', loglik: 'nats per image (IWAE)', rate: 'KL, nats', distortion: '-E_q log p(x|z), nats',
    entropy: 'posterior entropy, nats', crossent: '-E_q log p(z), nats',
  },
  axis: 'DoSE: -log density of the summary statistics',
  units: '-log density (sum over statistics)',
  create: ({ model, options }) => new DoseDetector(latent(model, "score 'dose'"), options),
};
