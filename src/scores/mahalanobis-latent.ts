// Mahalanobis distance of the posterior mean (Lee, Lee, Lee & Shin, NeurIPS 2018, "A Simple Unified Framework for
// Detecting Out-of-Distribution Samples and Adversarial Attacks", eq. 2, one class; here on the VAE's codes):
//
//   score(x) = (mu_z(x) - m)^T S^-1 (mu_z(x) - m)
//
// with m and S the mean and the Ledoit-Wolf shrunk covariance of the posterior means of ID training images
// (analysis/one-class.ts fitMahalanobis, the same estimator as sklearn.covariance.LedoitWolf). Higher = more OoD.
// Blind spot: OoD codes that fall inside the ID blob score as ID.
import { tidy, noGrad, type Tensor } from '../engine/index.js';
import type { LatentModel } from '../models/types.js';
import { OodgenError } from '../errors.js';
import { fitMahalanobis } from '../analysis/one-class.js';
import type { Detector, DetectorSpec, DetectorState, FitContext, ImageSource, ScoreBatch } from './types.js';
import { collectRows } from './collect.js';
import { f64, latent, notFitted, stateArray } from './fitted.js';

/** Posterior means (B, Z) as a row-major Float32Array. */
export function posteriorMeans(model: LatentModel, x: Tensor): Float32Array {
  return noGrad(() => tidy(() => {
    const p = model.encode(x);
    return p.mu.toFloat32Array();
  }));
}

export class MahalanobisLatentDetector implements Detector {
  readonly name = 'mahalanobis-latent';
  readonly description = 'squared Mahalanobis distance of the posterior mean to the ID codes (Ledoit-Wolf covariance; Lee et al. 2018)';
  private mean: Float64Array | null = null;
  private cov: Float64Array | null = null;
  private meta: Record<string, unknown> = {};
  constructor(readonly model: LatentModel) {}
  get fitted(): boolean { return this.mean !== null; }
  async fit(id: ImageSource, ctx: FitContext = {}): Promise<void> {
    const z = this.model.config.zDim;
    const n = id.shape[0];
    const X = await collectRows(this.model, id, z, (x) => posteriorMeans(this.model, x), { batchSize: ctx.batchSize, signal: ctx.signal });
    const m = fitMahalanobis(X, n, z);
    this.mean = Float64Array.from(m.mean);
    this.cov = Float64Array.from(m.covariance);
    this.meta = { zDim: z, n, shrinkage: m.shrinkage, data: ctx.data ?? id.name ?? 'in-distribution images' };
  }
  saveState(): DetectorState {
    if (!this.mean || !this.cov) throw notFitted(this.name);
    const z = this.mean.length;
    return { meta: this.meta, arrays: { mean: f64(this.mean), covariance: f64(this.cov, [z, z]) } };
  }
  loadState(s: DetectorState): void {
    const z = this.model.config.zDim;
    if (s.meta.zDim !== z) throw new OodgenError(`state is for a ${String(s.meta.zDim)}-dimensional latent, the model has ${z}`);
    this.mean = stateArray(s, 'mean', z);
    this.cov = stateArray(s, 'covariance', z * z);
    this.meta = s.meta;
  }
  evaluate(x: Tensor): ScoreBatch {
    if (!this.mean || !this.cov) throw notFitted(this.name);
    const mu = posteriorMeans(this.model, x);
    const d = mahalanobisFromState(this.mean, this.cov, this.mean.length, mu, x.shape[0]!);
    const score = Float32Array.from(d);
    return { score, columns: { mahalanobis: score } };
  }
  score(x: Tensor): Float32Array { return this.evaluate(x).score; }
  settings(): Record<string, unknown> { return { code: 'posterior mean', covariance: 'Ledoit-Wolf shrinkage' }; }
}

export const mahalanobisLatentSpec: DetectorSpec = {
  name: 'mahalanobis-latent',
  title: 'squared Mahalanobis distance of the posterior mean to the ID training codes (Ledoit-Wolf covariance)',
  reference: 'Lee, Lee, Lee & Shin, "A Simple Unified Framework for Detecting Out-of-Distribution Samples and Adversarial Attacks", NeurIPS 2018',
  granularity: 'sample',
  needs: ['encode', 'posterior'],
  fits: true,
  columns: { mahalanobis: 'squared Mahalanobis distance' },
  axis: 'squared Mahalanobis distance of mu_z(x)',
  units: 'squared Mahalanobis distance',
  create: ({ model }) => new MahalanobisLatentDetector(latent(model, "score 'mahalanobis-latent'")),
};

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
