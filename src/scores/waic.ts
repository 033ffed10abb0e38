// WAIC, the watanabe-Akaike information criterion of a model ensemble (Choi, Jang & Alemi 2018, "WAIC, but Why?
// Generative Ensembles for Robust Anomaly Detection", eq. 2):
//
//   WAIC(x) = E_theta[log p_theta(x)] - Var_theta[log p_theta(x)]
//
// over M models trained from different seeds (`oodgen train --seed`), each log p the IWAE estimate (K samples).
// Inputs on which the ensemble disagrees (high variance) are penalised even when each member finds them likely.
// Score = -WAIC (higher = more OoD). Var is the population variance over the M members (1/M), as in the paper's
// ensemble moments.
import { OodgenError } from '../errors.js';

/** perModel[m][i]: log p_m(x_i), nats. Returns score = -(mean - var) and the mean and variance columns. */
export function waicScore(perModel: ArrayLike<number>[]): { score: Float32Array; mean: Float32Array; variance: Float32Array } {
  const M = perModel.length;
  if (M < 2) throw new OodgenError(`waic needs an ensemble of at least 2 models (--ensemble RUN1,RUN2,...), got ${M}`);
  const n = perModel[0]!.length;
  if (perModel.some((p) => p.length !== n)) throw new OodgenError('waic: the ensemble members scored different numbers of images');
  const score = new Float32Array(n), mean = new Float32Array(n), variance = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let m = 0; m < M; m++) s += perModel[m]![i]!;
    const mu = s / M;
    let v = 0;
    for (let m = 0; m < M; m++) v += (perModel[m]![i]! - mu) ** 2;
    v /= M;
    mean[i] = mu;
    variance[i] = v;
    score[i] = -(mu - v);
  }
  return { score, mean, variance };
}
