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
