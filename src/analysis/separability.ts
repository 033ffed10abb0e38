// Linear separability of ID and OoD latent codes (Chen 2021, Sec. 3, Table 3.1): a linear SVM
// (svm.ts) trained on one split, evaluated on a held-out split, with the controls the seed asks for:
// ID-vs-ID (the same distribution must not separate) and the SVM on random projections of raw pixels
// to the latent dimension (separability that the pixels alone already give).
import { OodgenError } from '../errors.js';
import { oodMetrics, type OodMetrics } from '../eval/metrics.js';
import { checkMatrix, gaussian, mulberry32, rowsOf, shuffle, takeRows, vstack, type Matrix } from './matrix.js';
import { trainLinearSvm, type LinearSvm, type LinearSvmOptions } from './svm.js';

export interface SeparabilityInput {
  idTrain: Matrix;
  idTest: Matrix;
  oodTrain: Matrix;
  oodTest: Matrix;
  /** Code dimension; each matrix has length (rows * d). */
  d: number;
  svm?: LinearSvmOptions;
}

export interface SeparabilityReport {
  /** Fraction of held-out ID codes classified ID (Table 3.1 "positive"). */
  positiveAccuracy: number;
  /** Fraction of held-out OoD codes classified OoD (Table 3.1 "negative"). */
  negativeAccuracy: number;
  /** Fraction of all held-out codes classified correctly. */
  accuracy: number;
  /** AUROC of -d (higher = more OoD) on the held-out split; ties count one half. */
  auroc: number;
  /** All threshold-free metrics of the score -d (src/eval/metrics.ts): AUROC, AUPR-IN/OUT, FPR95TPR. */
  metrics: OodMetrics;
  /** Accuracy on the training split (a sanity check: 1 means separable in-sample). */
  trainAccuracy: number;
  /** Signed geometric distances d = (w^T z + b)/|w| of each held-out code (positive = ID side), for histograms. */
  idTestDistances: Float64Array;
  oodTestDistances: Float64Array;
  counts: { idTrain: number; idTest: number; oodTrain: number; oodTest: number };
  svm: LinearSvm;
}

export function separabilityReport(input: SeparabilityInput): SeparabilityReport {
  const { d } = input;
  const nIdTr = rowsOf(input.idTrain, d, 'separabilityReport: idTrain');
  const nIdTe = rowsOf(input.idTest, d, 'separabilityReport: idTest');
  const nOodTr = rowsOf(input.oodTrain, d, 'separabilityReport: oodTrain');
  const nOodTe = rowsOf(input.oodTest, d, 'separabilityReport: oodTest');
  checkMatrix(input.idTrain, nIdTr, d, 'separabilityReport: idTrain', 1);
  checkMatrix(input.idTest, nIdTe, d, 'separabilityReport: idTest', 1);
  checkMatrix(input.oodTrain, nOodTr, d, 'separabilityReport: oodTrain', 1);
  checkMatrix(input.oodTest, nOodTe, d, 'separabilityReport: oodTest', 1);

  const X = vstack([input.idTrain, input.oodTrain]);
  const y = new Int8Array(nIdTr + nOodTr);
  y.fill(1, 0, nIdTr);
  y.fill(-1, nIdTr);
  const svm = trainLinearSvm(X, nIdTr + nOodTr, d, y, input.svm);

  const trainM = svm.margin(X, nIdTr + nOodTr);
  let trainOk = 0;
  for (let i = 0; i < y.length; i++) if ((trainM[i] >= 0 ? 1 : -1) === y[i]) trainOk++;

  const dId = svm.decision(input.idTest, nIdTe);
  const dOod = svm.decision(input.oodTest, nOodTe);
  let posOk = 0, negOk = 0;
  for (const v of dId) if (v >= 0) posOk++;
  for (const v of dOod) if (v < 0) negOk++;
  const metrics = oodMetrics(dId.map((v) => -v), dOod.map((v) => -v));
  return {
    positiveAccuracy: posOk / nIdTe,
    negativeAccuracy: negOk / nOodTe,
    accuracy: (posOk + negOk) / (nIdTe + nOodTe),
    auroc: metrics.AUROC,
    metrics,
    trainAccuracy: trainOk / y.length,
    idTestDistances: dId,
    oodTestDistances: dOod,
    counts: { idTrain: nIdTr, idTest: nIdTe, oodTrain: nOodTr, oodTest: nOodTe },
    svm,
  };
}

export interface IdVsIdInput {
  /** Codes of the ID training images (labelled +1 in the control). */
  idTrain: Matrix;
  /** Codes of the ID test images (labelled -1 in the control). */
  idTest: Matrix;
  d: number;
  /** Fraction of each set used to fit the control SVM; the rest is held out. Default 0.5. */
  fitFraction?: number;
  seed?: number;
  svm?: LinearSvmOptions;
}

/**
 * Control: ID train codes (+1) against ID test codes (-1). Both come from the same distribution,
 * so held-out accuracy and AUROC should be ~0.5; clearly more would mean the encoder memorised its
 * training set (or a leak), and would undermine the ID-vs-OoD result. Each set is split at random
 * (seeded) into a fitting part and a held-out part; the report is over the held-out parts, with
 * "positive" = ID-train codes and "negative" = ID-test codes.
 */
export function idVsIdControl(input: IdVsIdInput): SeparabilityReport {
  const { d } = input;
  const frac = input.fitFraction ?? 0.5;
  if (!(frac > 0 && frac < 1)) throw new OodgenError(`idVsIdControl: fitFraction must be in (0, 1), got ${frac}`);
  const rand = mulberry32(input.seed ?? 0);
  const split = (M: Matrix, name: string): [Float32Array, Float32Array] => {
    const n = rowsOf(M, d, `idVsIdControl: ${name}`);
    checkMatrix(M, n, d, `idVsIdControl: ${name}`, 2);
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    shuffle(idx, rand);
    const k = Math.min(n - 1, Math.max(1, Math.round(n * frac)));
    return [takeRows(M, d, idx.subarray(0, k).sort()), takeRows(M, d, idx.subarray(k).sort())];
  };
  const [aFit, aHeld] = split(input.idTrain, 'idTrain');
  const [bFit, bHeld] = split(input.idTest, 'idTest');
  return separabilityReport({ idTrain: aFit, idTest: aHeld, oodTrain: bFit, oodTest: bHeld, d, svm: input.svm });
}

/**
 * Gaussian random projection R (nPix x d, entries N(0, 1)/sqrt(d)) so that E|R^T x|^2 = |x|^2
 * (Johnson-Lindenstrauss). Returns a function projecting n x nPix pixel rows to n x d. The same seed
 * gives the same R, so ID and OoD pixels must be projected with the same function (or the same seed).
 */
export function makeRandomProjection(nPix: number, d: number, seed = 0): (pixels: Matrix) => Float32Array {
  if (!Number.isInteger(nPix) || nPix < 1) throw new OodgenError(`randomProjection: nPix must be a positive integer, got ${nPix}`);
  if (!Number.isInteger(d) || d < 1) throw new OodgenError(`randomProjection: d must be a positive integer, got ${d}`);
  const g = gaussian(mulberry32(seed));
  const R = new Float32Array(nPix * d);
  const s = 1 / Math.sqrt(d);
  for (let k = 0; k < R.length; k++) R[k] = g() * s;
  return (pixels: Matrix) => {
    const n = rowsOf(pixels, nPix, 'randomProjection: pixels');
    checkMatrix(pixels, n, nPix, 'randomProjection: pixels');
    const out = new Float32Array(n * d);
    const acc = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      acc.fill(0);
      for (let p = 0; p < nPix; p++) {
        const x = pixels[i * nPix + p];
        if (x === 0) continue;
        const off = p * d;
        for (let j = 0; j < d; j++) acc[j] += x * R[off + j];
      }
      out.set(acc, i * d);
    }
    return out;
  };
}

/** One-shot form of makeRandomProjection: pixels is n x nPix row-major; returns n x d. */
export function randomProjection(pixels: Matrix, nPix: number, d: number, seed = 0): Float32Array {
  return makeRandomProjection(nPix, d, seed)(pixels);
}
