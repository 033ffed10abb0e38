// The likelihood path principle (Huang, Jin, Wang, Yuan, ... "Inference, Fast and Slow: Reinterpreting VAEs for OOD
// Detection", LPath): instead of the likelihood, score four statistics of the VAE's inference path,
//
//   u = ||x - mu_x(mu_z(x))||_2     reconstruction error through the posterior mean
//   v = ||mu_z(x)||_2               size of the posterior mean
//   w = ||sigma_z(x)||_2            size of the posterior standard deviation
//   s = ||sigma_x(mu_z(x))||_2      size of the decoder's standard deviation at that code
//
// fitted on ID training statistics by a parameter-free second stage: COPOD (Li et al. 2020, copod.ts; default) or
// the Mahalanobis distance with Ledoit-Wolf shrinkage (analysis/one-class.ts). Higher = more OoD.
//
// mu_x is the decoder's mean (a Gaussian decoder's raw output, unclamped; a Bernoulli decoder's sigmoid; a
// categorical decoder's sum_k p_k k/255); sigma_x its standard deviation per sub-pixel. For a Gaussian decoder with
// a global or per-channel variance, s is the same for every image (sqrt(D sigma^2), or sqrt(HW sum_c sigma_c^2)):
// it carries no information, and fit() drops every statistic that is constant on the ID data (listed in the state).
// The paper's two-model variant takes u and s from a VAE with a tiny latent (1-2) and v and w from one with a very
// large latent (~1000): pass both models (`lpathStatistics(small, large, x)`).
import {
  Tensor, tidy, noGrad, sub, square, sum, exp, mul, sqrt, reshape, sigmoid, softmax, arange, toDtype, div, rsub, onesLike, fullLike,
} from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import { OodgenError } from '../errors.js';
import { gaussianPosterior } from './latent.js';
import { fitCopod, scoreCopod, type CopodState } from './copod.js';
import { fitMahalanobis } from '../analysis/one-class.js';

export const LPATH_STATS = ['u', 'v', 'w', 's'] as const;
export type SecondStage = 'copod' | 'mahalanobis';

const rowNorm = (t: Tensor): Tensor => sqrt(sum(square(reshape(t, [t.shape[0]!, -1])), 1)); // (B,)

/** The decoder's mean and standard deviation images at codes z, each (B, C, H, W). */
export function decoderMoments(model: LatentModel, z: Tensor): { mean: Tensor; std: Tensor } {
  const d = model.decode(z);
  switch (model.config.decoder) {
    case 'gaussian': {
      const ls = (model as { logSigma2?: Tensor | null }).logSigma2 ?? null;
      if (ls) return { mean: d, std: mul(onesLike(d), exp(mul(reshape(ls, [1, -1, 1, 1]), 0.5))) }; // (1, C, 1, 1) broadcast
      const sigma2 = typeof model.config.sigma2 === 'number' ? model.config.sigma2 : 1;
      return { mean: d, std: fullLike(d, Math.sqrt(sigma2)) };
    }
    case 'bernoulli': {
      const p = sigmoid(d);
      return { mean: p, std: sqrt(mul(p, rsub(p, 1))) };
    }
    case 'categorical': {
      const p = softmax(d, 1); // (B, 256, C, H, W)
      const lv = reshape(div(toDtype(arange(256, { device: d.device }), 'float32'), 255), [1, 256, 1, 1, 1]);
      const m = sum(mul(p, lv), 1);
      const m2 = sum(mul(p, square(lv)), 1);
      return { mean: m, std: sqrt(sub(m2, square(m))) };
    }
  }
}

/** u, v, w, s per image (B each). `large` (default: the same model) gives v and w, `small` gives u and s. */
export function lpathStatistics(small: LatentModel, x: Tensor, large: LatentModel = small): Record<'u' | 'v' | 'w' | 's', Float32Array> {
  return noGrad(() => tidy(() => {
    const ps = gaussianPosterior(small.encode(x), 'lpath');
    const { mean, std } = decoderMoments(small, ps.mu);
    const u = rowNorm(sub(x, mean));
    const s = rowNorm(std);
    const pl = large === small ? ps : gaussianPosterior(large.encode(x), 'lpath');
    const v = rowNorm(pl.mu);
    const w = rowNorm(exp(mul(pl.logvar, 0.5)));
    return { u: u.toFloat32Array(), v: v.toFloat32Array(), w: w.toFloat32Array(), s: s.toFloat32Array() };
  }));
}

export interface LpathState {
  secondStage: SecondStage;
  /** The statistics used (constant ones dropped at fit). */
  used: string[];
  dropped: string[];
  n: number;
  copod?: CopodState;
  mahalanobis?: { mean: number[]; covariance: number[]; shrinkage: number };
}

function matrix(stats: Record<string, ArrayLike<number>>, names: string[]): { X: Float64Array; n: number } {
  const n = stats[names[0]!]!.length;
  const X = new Float64Array(n * names.length);
  names.forEach((k, j) => {
    const col = stats[k];
    if (!col || col.length !== n) throw new OodgenError(`lpath: statistic '${k}' missing or of the wrong length`);
    for (let i = 0; i < n; i++) X[i * names.length + j] = col[i]!;
  });
  return { X, n };
}

export function fitLpath(stats: Record<string, ArrayLike<number>>, secondStage: SecondStage = 'copod'): LpathState {
  const used: string[] = [], dropped: string[] = [];
  for (const k of LPATH_STATS) {
    const c = stats[k]!;
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < c.length; i++) { lo = Math.min(lo, c[i]!); hi = Math.max(hi, c[i]!); }
    if (hi - lo > 1e-6 * Math.max(1, Math.abs(hi))) used.push(k); else dropped.push(k);
  }
  if (used.length === 0) throw new OodgenError('lpath: every statistic is constant on the ID data');
  const { X, n } = matrix(stats, used);
  if (secondStage === 'copod') return { secondStage, used, dropped, n, copod: fitCopod(X, n, used.length) };
  if (secondStage !== 'mahalanobis') throw new OodgenError(`--second-stage must be copod or mahalanobis, got '${String(secondStage)}'`);
  const m = fitMahalanobis(X, n, used.length);
  return { secondStage, used, dropped, n, mahalanobis: { mean: [...m.mean], covariance: [...m.covariance], shrinkage: m.shrinkage } };
}

export function scoreLpath(state: LpathState, stats: Record<string, ArrayLike<number>>): Float64Array {
  const { X, n } = matrix(stats, state.used);
  const d = state.used.length;
  if (state.secondStage === 'copod') return scoreCopod(state.copod!, X, n);
  const { mean, covariance } = state.mahalanobis!;
  return mahalanobisFromState(mean, covariance, d, X, n);
}

/** Squared Mahalanobis distances to a saved mean and covariance (Cholesky solve). */
export function mahalanobisFromState(mean: ArrayLike<number>, cov: ArrayLike<number>, d: number, X: ArrayLike<number>, n: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) {
    let s = cov[i * d + j]!;
    for (let k = 0; k < j; k++) s -= L[i * d + k]! * L[j * d + k]!;
    if (i === j) {
      if (!(s > 0)) throw new OodgenError('Mahalanobis: saved covariance is not positive definite');
      L[i * d + i] = Math.sqrt(s);
    } else L[i * d + j] = s / L[j * d + j]!;
  }
  const out = new Float64Array(n), u = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    let acc = 0;
    for (let a = 0; a < d; a++) {
      let v = X[r * d + a]! - mean[a]!;
      for (let b = 0; b < a; b++) v -= L[a * d + b]! * u[b]!;
      u[a] = v / L[a * d + a]!;
      acc += u[a]! * u[a]!;
    }
    out[r] = acc;
  }
  return out;
}
