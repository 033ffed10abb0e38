// Zero-shot OoD in latent space: a one-class model fitted on ID codes only (the seed suggests a
// one-class variant of the hyperplane test).
//
// What this is, named honestly: the (squared) Mahalanobis distance of a code to a single Gaussian
// fitted to the ID codes, with a Ledoit-Wolf shrinkage covariance - the latent-space detector of
// Lee, Lee, Lee & Shin, "A Simple Unified Framework for Detecting Out-of-Distribution Samples and
// Adversarial Attacks", NeurIPS 2018 (there on classifier features, one class here). It is *not* an
// SVM. Why this and not Schölkopf's one-class linear SVM: a linear one-class SVM separates the ID
// codes from the origin, so it can only score along one direction and is weak whenever the ID codes
// form a blob around their mean (as VAE/flow codes do); the Mahalanobis distance is the
// likelihood-ratio-optimal score for a Gaussian ID blob, has no hyper-parameters once the covariance
// is shrunk (Ledoit & Wolf 2004, the same estimator as sklearn.covariance.LedoitWolf), and is cheap.
// Its blind spot, worth stating next to any result: OoD codes lying *inside* the ID blob (closer to
// the mean than typical ID codes - the latent analogue of the likelihood failure) score as ID; the
// supervised SVM in separability.ts does not have that limitation.
import { OodgenError } from '../errors.js';
import { oodMetrics, type OodMetrics } from '../eval/metrics.js';
import { checkMatrix, rowsOf, type Matrix } from './matrix.js';

export interface MahalanobisOptions {
  /** 'ledoit-wolf' (default) or a fixed shrinkage in [0, 1] towards (trace/d) I. */
  shrinkage?: 'ledoit-wolf' | number;
}

export interface MahalanobisModel {
  readonly d: number;
  readonly mean: Float64Array;
  /** Shrunk covariance, d x d row-major: (1 - s) S + s (tr S / d) I with S the biased sample covariance. */
  readonly covariance: Float64Array;
  readonly shrinkage: number;
  /** Squared Mahalanobis distance of each row to the ID mean; higher = more OoD. */
  score(X: Matrix, n: number): Float64Array;
}

export function fitMahalanobis(X: Matrix, n: number, d: number, opts: MahalanobisOptions = {}): MahalanobisModel {
  checkMatrix(X, n, d, 'fitMahalanobis: X', 2);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += X[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const Xc = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) Xc[i * d + j] = X[i * d + j] - mean[j];
  // S = Xc^T Xc / n (biased, as sklearn's empirical_covariance).
  const S = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    const off = i * d;
    for (let a = 0; a < d; a++) {
      const xa = Xc[off + a];
      if (xa === 0) continue;
      for (let b = a; b < d; b++) S[a * d + b] += xa * Xc[off + b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) { S[a * d + b] /= n; S[b * d + a] = S[a * d + b]; }
  let trace = 0;
  for (let a = 0; a < d; a++) trace += S[a * d + a];
  const mu = trace / d;

  let s: number;
  const sh = opts.shrinkage ?? 'ledoit-wolf';
  if (sh === 'ledoit-wolf') s = ledoitWolfShrinkage(Xc, n, d, S, mu);
  else if (typeof sh === 'number' && sh >= 0 && sh <= 1) s = sh;
  else throw new OodgenError(`fitMahalanobis: shrinkage must be 'ledoit-wolf' or a number in [0, 1], got ${String(sh)}`);

  const cov = new Float64Array(d * d);
  for (let k = 0; k < d * d; k++) cov[k] = (1 - s) * S[k];
  for (let a = 0; a < d; a++) cov[a * d + a] += s * mu;
  if (!(mu > 0)) throw new OodgenError('fitMahalanobis: the ID codes have zero variance in every dimension');
  const L = cholesky(cov, d);

  return {
    d, mean, covariance: cov, shrinkage: s,
    score(Q: Matrix, m: number) {
      checkMatrix(Q, m, d, 'MahalanobisModel.score: X');
      const out = new Float64Array(m);
      const u = new Float64Array(d);
      for (let i = 0; i < m; i++) {
        // Solve L u = (q - mean) by forward substitution; the distance is |u|^2.
        let acc = 0;
        for (let a = 0; a < d; a++) {
          let v = Q[i * d + a] - mean[a];
          for (let b = 0; b < a; b++) v -= L[a * d + b] * u[b];
          u[a] = v / L[a * d + a];
          acc += u[a] * u[a];
        }
        out[i] = acc;
      }
      return out;
    },
  };
}

/** Ledoit & Wolf (2004) optimal shrinkage towards mu I, as sklearn.covariance.ledoit_wolf_shrinkage. */
function ledoitWolfShrinkage(Xc: Float64Array, n: number, d: number, S: Float64Array, mu: number): number {
  // beta_ = sum_{a,b} sum_i x_ia^2 x_ib^2 = sum_i (sum_a x_ia^2)^2
  let betaSum = 0;
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let a = 0; a < d; a++) r += Xc[i * d + a] * Xc[i * d + a];
    betaSum += r * r;
  }
  // delta_ = |Xc^T Xc|_F^2 / n^2 = |S|_F^2
  let deltaSum = 0;
  for (let k = 0; k < d * d; k++) deltaSum += S[k] * S[k];
  let beta = (betaSum / n - deltaSum) / (d * n);
  // delta = |S - mu I|_F^2 / d
  const delta = (deltaSum - 2 * mu * (mu * d) + d * mu * mu) / d;
  beta = Math.min(beta, delta);
  return beta === 0 ? 0 : beta / delta;
}

/** Lower-triangular Cholesky factor of a symmetric positive-definite d x d matrix. */
function cholesky(A: Float64Array, d: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * d + j];
      for (let k = 0; k < j; k++) s -= L[i * d + k] * L[j * d + k];
      if (i === j) {
        if (!(s > 0)) {
          throw new OodgenError('fitMahalanobis: covariance is not positive definite (too few ID codes for the dimension and no shrinkage?)');
        }
        L[i * d + i] = Math.sqrt(s);
      } else L[i * d + j] = s / L[j * d + j];
    }
  }
  return L;
}

export interface OneClassReport {
  /** AUROC of the Mahalanobis score (OoD positive, higher = more OoD) on held-out codes. */
  auroc: number;
  /** All threshold-free metrics of the score (src/eval/metrics.ts). */
  metrics: OodMetrics;
  idScores: Float64Array;
  oodScores: Float64Array;
  model: MahalanobisModel;
}

/** Fit on ID training codes only, score held-out ID and OoD codes. */
export function oneClassReport(input: {
  idTrain: Matrix; idTest: Matrix; oodTest: Matrix; d: number; options?: MahalanobisOptions;
}): OneClassReport {
  const { d } = input;
  const nTr = rowsOf(input.idTrain, d, 'oneClassReport: idTrain');
  const nId = rowsOf(input.idTest, d, 'oneClassReport: idTest');
  const nOod = rowsOf(input.oodTest, d, 'oneClassReport: oodTest');
  if (nId === 0) throw new OodgenError('oneClassReport: idTest is empty');
  if (nOod === 0) throw new OodgenError('oneClassReport: oodTest is empty');
  const model = fitMahalanobis(input.idTrain, nTr, d, input.options);
  const idScores = model.score(input.idTest, nId);
  const oodScores = model.score(input.oodTest, nOod);
  const metrics = oodMetrics(idScores, oodScores);
  return { auroc: metrics.AUROC, metrics, idScores, oodScores, model };
}
