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
import { mahalanobisFromState } from './mahalanobis-latent.js';
import type { Detector, DetectorSpec, DetectorState, FitContext, ImageSource, ScoreBatch } from './types.js';
import { collectColumns } from './collect.js';
import { f64, latent, notFitted, stateArray } from './fitted.js';

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

// ---- Detector (registered in builtin.ts) ----

export function parseSecondStage(v: unknown): SecondStage {
  if (v === undefined || v === null) return 'copod';
  if (v === 'copod' || v === 'mahalanobis') return v;
  throw new OodgenError(`--second-stage must be copod or mahalanobis, got '${String(v)}'`);
}

export class LpathDetector implements Detector {
  readonly name = 'lpath';
  readonly description: string;
  private state: LpathState | null = null;
  private meta: Record<string, unknown> = {};
  readonly secondStage: SecondStage;
  get models(): readonly LatentModel[] { return [this.model, this.large]; }
  constructor(readonly model: LatentModel, readonly large: LatentModel = model, o: Record<string, unknown> = {}) {
    this.secondStage = parseSecondStage(o.secondStage);
    this.description = `${this.secondStage === 'copod' ? 'COPOD' : 'Mahalanobis'} score of the inference-path statistics u, v, w, s${large === model ? '' : ' (u, s from the small-latent model, v, w from the large-latent one)'} (LPath)`;
  }
  get fitted(): boolean { return this.state !== null; }
  statistics(x: Tensor) { return lpathStatistics(this.model, x, this.large); }
  async fit(id: ImageSource, ctx: FitContext = {}): Promise<void> {
    const stats = await collectColumns(this.model, id, (x) => this.statistics(x), { batchSize: ctx.batchSize, signal: ctx.signal, models: this.models });
    this.state = fitLpath(stats, this.secondStage);
    this.meta = {
      secondStage: this.secondStage, used: this.state.used, dropped: this.state.dropped, n: this.state.n, twoModels: this.large !== this.model,
      zDims: [this.model.config.zDim, this.large.config.zDim], data: ctx.data ?? id.name ?? 'in-distribution images',
    };
  }
  saveState(): DetectorState {
    const s = this.state;
    if (!s) throw notFitted(this.name);
    const d = s.used.length;
    if (s.copod) return { meta: this.meta, arrays: { sorted: f64(s.copod.sorted.flat(), [d, s.n]) } };
    return { meta: this.meta, arrays: { mean: f64(s.mahalanobis!.mean), covariance: f64(s.mahalanobis!.covariance, [d, d]) } };
  }
  loadState(st: DetectorState): void {
    const m = st.meta;
    if (m.secondStage !== this.secondStage) throw new OodgenError(`state was fitted with second stage ${String(m.secondStage)}, this detector uses ${this.secondStage}`);
    const z = [this.model.config.zDim, this.large.config.zDim];
    if (JSON.stringify(m.zDims) !== JSON.stringify(z)) throw new OodgenError(`state was fitted on models with latent sizes ${JSON.stringify(m.zDims)}, these have ${JSON.stringify(z)}`);
    const used = m.used as string[], n = Number(m.n), d = used.length;
    if (!Array.isArray(used) || used.some((k) => !(LPATH_STATS as readonly string[]).includes(k))) throw new OodgenError('state lists unknown LPath statistics');
    if (this.secondStage === 'copod') {
      const a = stateArray(st, 'sorted', d * n);
      const sorted = Array.from({ length: d }, (_, j) => Array.from(a.subarray(j * n, (j + 1) * n)));
      this.state = { secondStage: 'copod', used, dropped: m.dropped as string[], n, copod: { d, n, sorted } };
    } else {
      this.state = {
        secondStage: 'mahalanobis', used, dropped: m.dropped as string[], n,
        mahalanobis: { mean: [...stateArray(st, 'mean', d)], covariance: [...stateArray(st, 'covariance', d * d)], shrinkage: NaN },
      };
    }
    this.meta = m;
  }
  evaluate(x: Tensor): ScoreBatch {
    if (!this.state) throw notFitted(this.name);
    const stats = this.statistics(x);
    const score = Float32Array.from(scoreLpath(this.state, stats));
    return { score, columns: { lpath: score, ...stats } };
  }
  score(x: Tensor): Float32Array { return this.evaluate(x).score; }
  settings(): Record<string, unknown> { return { secondStage: this.secondStage, twoModels: this.large !== this.model }; }
}

export const lpathSpec: DetectorSpec = {
  name: 'lpath',
  title: 'LPath: COPOD (or Mahalanobis) of the inference-path statistics u = |x - mu_x(mu_z)|, v = |mu_z|, w = |sigma_z|, s = |sigma_x(mu_z)|',
  reference: 'Huang et al., "Inference, Fast and Slow: Reinterpreting VAEs for OOD Detection" (the likelihood path principle); COPOD: Li, Zhao, Botta, Ionescu & Hu, ICDM 2020',
  granularity: 'sample',
  needs: ['encode', 'posterior', 'decode'],
  models: { min: 1, max: 2, roles: ['u and s (small latent)', 'v and w (large latent)'] },
  fits: true,
  options: { secondStage: 'copod (default) | mahalanobis' },
  columns: { lpath: 'second-stage score', u: 'L2 norm', v: 'L2 norm', w: 'L2 norm', s: 'L2 norm' },
  axis: 'LPath second-stage score',
  units: 'COPOD outlier score (sum of -log tail probabilities) or squared Mahalanobis distance',
  create: ({ models, options }) => new LpathDetector(
    latent(models[0]!, "score 'lpath'"), models[1] ? latent(models[1], "score 'lpath' (large-latent model)") : undefined, options,
  ),
};
