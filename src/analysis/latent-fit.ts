// Steps 1-3 of the latent-semantics analysis (Chen 2021, Sec. 3.4): encode the sets, fit the linear SVM per OoD
// set on seeded splits with its controls (random projection of pixels; ID train vs ID test) and the one-class score.
// The splits are described in latent-report.ts and SPLIT_DESCRIPTION. No files are written here except the output
// folder itself.
import { mkdir } from 'node:fs/promises';
import { OodgenError } from '../errors.js';
import type { LatentModel } from '../models/types.js';
import { parseBnMode, type BnMode } from '../scores/bn-mode.js';
import { macrotaskTurn } from '../scores/steps.js';
import { oodMetrics } from '../eval/metrics.js';
import { encodeSet, gatherImages, DEFAULT_BATCH, type Encoded, type Images } from './encode.js';
import { mulberry32, shuffle, takeRows } from './matrix.js';
import { oneClassReport } from './one-class.js';
import { makeRandomProjection, separabilityReport, type SeparabilityReport } from './separability.js';
import {
  EMBED_CHOICES, slugOf, type EmbedChoice, type LatentAnalysisOptions, type LatentAnalysisResult, type PairResult, type Quantiles,
  type SvmSummary, type TableRow,
} from './latent-types.js';

function evenlySpaced(n: number, limit: number | undefined): Int32Array {
  const m = limit === undefined ? n : Math.min(n, limit);
  return Int32Array.from({ length: m }, (_, i) => Math.floor((i * n) / m));
}

function subset(set: Images, idx: Int32Array): Images {
  if (idx.length === set.shape[0]) return set;
  const [, c, h, w] = set.shape;
  return { images: gatherImages(set, idx), shape: [idx.length, c, h, w], name: set.name };
}

export function pixelsOf(set: Images): Float32Array {
  return set.images instanceof Float32Array ? set.images : Float32Array.from(set.images, (v) => v / 255);
}

function quantiles(v: ArrayLike<number>): Quantiles {
  const s = Array.from(v).sort((a, b) => a - b);
  const q = (p: number) => {
    const pos = (s.length - 1) * p;
    const lo = Math.floor(pos), hi = Math.min(lo + 1, s.length - 1);
    return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
  };
  return { min: s[0]!, q05: q(0.05), q25: q(0.25), median: q(0.5), q75: q(0.75), q95: q(0.95), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function ranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a]! - v[b]!);
  const r = new Float64Array(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]!] === v[idx[i]!]) j++;
    for (let k = i; k <= j; k++) r[idx[k]!] = (i + j) / 2; // average rank for ties
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation (Pearson on average ranks). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length < 2) throw new OodgenError(`spearman: need two equal-length series of >= 2 values, got ${a.length} and ${b.length}`);
  const ra = ranks(a), rb = ranks(b);
  const n = a.length;
  const ma = ra.reduce((x, y) => x + y, 0) / n, mb = rb.reduce((x, y) => x + y, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { const x = ra[i]! - ma, y = rb[i]! - mb; sab += x * y; saa += x * x; sbb += y * y; }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

export function summary(r: SeparabilityReport, C: number): SvmSummary {
  let nrm = 0;
  for (const v of r.svm.w) nrm += v * v;
  return {
    positiveAccuracy: r.positiveAccuracy, negativeAccuracy: r.negativeAccuracy, accuracy: r.accuracy, trainAccuracy: r.trainAccuracy,
    metrics: r.metrics, counts: r.counts,
    svm: { C, loss: r.svm.loss, classWeight: 'balanced', iterations: r.svm.iterations, converged: r.svm.converged, nSupport: r.svm.nSupport, normOfW: Math.sqrt(nrm), b: r.svm.b },
    distances: { id: quantiles(r.idTestDistances), ood: quantiles(r.oodTestDistances) },
  };
}


/** Everything steps 1-3 computed, for the figures (latent-figures.ts) and the results document. */
export interface LatentFit {
  t0: number;
  timings: Record<string, number>;
  model: LatentModel;
  bn: BnMode;
  seed: number;
  k: number;
  embed: EmbedChoice;
  batchSize: number;
  C: number;
  stripRows: number;
  idName: string;
  slugs: string[];
  idTrain: Images;
  idTest: Images;
  oods: { name: string; set: Images }[];
  zTrain: Encoded;
  zTest: Encoded;
  zOod: Encoded[];
  d: number;
  nPix: number;
  shape: [number, number, number];
  pairs: PairResult[];
  table: TableRow[];
  /** Per OoD set: held-out distances, indices, the latent SVM's report and the pixel-projection SVM's (`pixels`). */
  held: { dId: Float64Array; dOod: Float64Array; heldIdx: Int32Array; report: SeparabilityReport; pixels: SeparabilityReport }[];
  /** The random projection of pixels (n x C*H*W in [0, 1] -> n x zDim) the pixel control uses. */
  project: (pixels: Float32Array) => Float32Array;
  setsInfo: LatentAnalysisResult['sets'];
  ctl: SeparabilityReport;
  ctlOc: ReturnType<typeof oneClassReport>;
  progress: (stage: string, done?: number, total?: number) => void;
}

/** Steps 1-3: codes, SVMs with controls, one-class scores. */
export async function fitLatent(o: LatentAnalysisOptions): Promise<LatentFit> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => { timings[name] = (Date.now() - since) / 1000; };
  const model = o.model;
  const bn = parseBnMode(o.bn ?? 'eval');
  const seed = o.seed ?? 0;
  const k = o.k ?? 8;
  const embed = o.embed ?? 'both';
  const batchSize = o.batchSize ?? DEFAULT_BATCH;
  const C = o.svmC ?? 1;
  const stripRows = o.stripRows ?? 6;
  if (!EMBED_CHOICES.includes(embed)) throw new OodgenError(`embed must be one of ${EMBED_CHOICES.join(', ')}, got '${String(embed)}'`);
  if (!Number.isInteger(k) || k < 1) throw new OodgenError(`k must be a positive integer, got ${k}`);
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 4)) throw new OodgenError(`limit must be an integer >= 4, got ${o.limit}`);
  if (o.ood.length === 0) throw new OodgenError('no OoD set given');
  const slugs = o.ood.map((s) => slugOf(s.name));
  if (new Set(slugs).size !== slugs.length) throw new OodgenError(`OoD set names must differ after slugging (${slugs.join(', ')})`);
  const progress = o.onProgress ?? (() => {});
  // A macrotask turn before each stage, so a Ctrl-C handler can run and abort the fit.
  const checkpoint = async () => { if (o.signal) await macrotaskTurn(o.signal); };
  const idName = o.idName ?? o.idTrain.name ?? 'ID';
  await mkdir(o.outDir, { recursive: true });

  // 1. Codes.
  let t = Date.now();
  const idTrain = subset(o.idTrain, evenlySpaced(o.idTrain.shape[0], o.limit));
  const idTest = subset(o.idTest, evenlySpaced(o.idTest.shape[0], o.limit));
  const oods = o.ood.map((s) => ({ name: s.name, set: subset(s.set, evenlySpaced(s.set.shape[0], o.limit)) }));
  for (const s of oods) if (s.set.shape[0] < 4) throw new OodgenError(`OoD set ${s.name}: needs at least 4 images to split, has ${s.set.shape[0]}`);
  if (idTrain.shape[0] < 4 || idTest.shape[0] < 4) throw new OodgenError('the ID train and test sets need at least 4 images each');
  const total = idTrain.shape[0] + idTest.shape[0] + oods.reduce((a, s) => a + s.set.shape[0], 0);
  let done = 0;
  const enc = async (set: Images, nll: boolean, label: string) => {
    await checkpoint();
    const before = done;
    const r = await encodeSet(model, set, { bn, batchSize, nll, nllSamples: o.nllSamples, seed, onBatch: (m) => progress(`encode ${label}`, before + m, total) });
    done = before + set.shape[0];
    return r;
  };
  const zTrain = await enc(idTrain, false, `${idName} train`);
  const zTest = await enc(idTest, true, `${idName} test`);
  const zOod: Encoded[] = [];
  for (const s of oods) zOod.push(await enc(s.set, true, s.name));
  const d = model.config.zDim;
  lap('encode', t);

  // Random projection of pixels, the same matrix for every set.
  const [, ch, hh, ww] = idTrain.shape;
  const nPix = ch * hh * ww;
  const project = makeRandomProjection(nPix, d, seed);
  const pTrain = project(pixelsOf(idTrain));
  const pTest = project(pixelsOf(idTest));

  // 2.-3. SVMs, controls and one-class per OoD set.
  t = Date.now();
  const svmOpts = { C, seed, classWeight: 'balanced' as const };
  const oneClassLatent = (oodHeld: Float32Array) => oneClassReport({ idTrain: zTrain.mu, idTest: zTest.mu, oodTest: oodHeld, d });
  const pairs: PairResult[] = [];
  const table: TableRow[] = [];
  const held: LatentFit['held'] = [];
  const setsInfo: LatentAnalysisResult['sets'] = [
    { name: `${idName} train`, role: 'id-train', available: o.idTrain.shape[0], used: idTrain.shape[0], fit: idTrain.shape[0] },
    { name: `${idName} test`, role: 'id-test', available: o.idTest.shape[0], used: idTest.shape[0], heldOut: idTest.shape[0] },
  ];
  for (let s = 0; s < oods.length; s++) {
    await checkpoint();
    progress(`svm ${oods[s]!.name}`);
    const n = oods[s]!.set.shape[0];
    const perm = Int32Array.from({ length: n }, (_, i) => i);
    shuffle(perm, mulberry32(seed + 1000 * (s + 1)));
    const half = Math.floor(n / 2);
    const fitIdx = perm.slice(0, half).sort();
    const heldIdx = perm.slice(half).sort();
    setsInfo.push({ name: oods[s]!.name, role: 'ood', available: o.ood[s]!.set.shape[0], used: n, fit: fitIdx.length, heldOut: heldIdx.length });
    const mu = zOod[s]!.mu;
    const oFit = takeRows(mu, d, fitIdx), oHeld = takeRows(mu, d, heldIdx);
    const lat = separabilityReport({ idTrain: zTrain.mu, oodTrain: oFit, idTest: zTest.mu, oodTest: oHeld, d, svm: svmOpts });
    const oc = oneClassLatent(oHeld);
    const pix = pixelsOf(oods[s]!.set);
    const pO = project(pix);
    const pFit = takeRows(pO, d, fitIdx), pHeld = takeRows(pO, d, heldIdx);
    const rp = separabilityReport({ idTrain: pTrain, oodTrain: pFit, idTest: pTest, oodTest: pHeld, d, svm: svmOpts });
    const ocRp = oneClassReport({ idTrain: pTrain, idTest: pTest, oodTest: pHeld, d });
    const nllId = zTest.nll!, nllOodAll = zOod[s]!.nll!;
    const nllOod = Float32Array.from(heldIdx, (i) => nllOodAll[i]!);
    const likeMetrics = oodMetrics(nllId, nllOod);
    const dAll = Float64Array.from([...lat.idTestDistances, ...lat.oodTestDistances]);
    const nAll = Float64Array.from([...nllId, ...nllOod]);
    const pair = `${idName} vs ${oods[s]!.name}`;
    table.push(
      { pair, features: `latent codes mu(x) (d = ${d})`, fit: { positive: lat.counts.idTrain, negative: lat.counts.oodTrain }, heldOut: { positive: lat.counts.idTest, negative: lat.counts.oodTest }, positiveAccuracy: lat.positiveAccuracy, negativeAccuracy: lat.negativeAccuracy, auroc: lat.auroc, oneClassAuroc: oc.auroc },
      { pair, features: `random projection of pixels (${nPix} -> ${d})`, fit: { positive: rp.counts.idTrain, negative: rp.counts.oodTrain }, heldOut: { positive: rp.counts.idTest, negative: rp.counts.oodTest }, positiveAccuracy: rp.positiveAccuracy, negativeAccuracy: rp.negativeAccuracy, auroc: rp.auroc, oneClassAuroc: ocRp.auroc },
    );
    pairs.push({
      ood: oods[s]!.name, slug: slugs[s]!,
      latent: summary(lat, C),
      randomProjection: { ...summary(rp, C), pixels: nPix, dim: d },
      oneClass: { latent: oc.metrics, randomProjection: ocRp.metrics, shrinkage: oc.model.shrinkage },
      likelihood: { kind: zTest.nllKind!, metrics: likeMetrics, spearmanWithDistance: spearman(dAll, nAll) },
      strips: { rows: [], crossingColumn: 0, radius: 0, note: '' },
      hardest: { id: [], ood: [], note: '' },
      figures: {},
    });
    held.push({ dId: lat.idTestDistances, dOod: lat.oodTestDistances, heldIdx, report: lat, pixels: rp });
  }

  // ID train vs ID test control (latent codes), with the one-class score on the same split.
  progress('control: ID train vs ID test');
  const rand = mulberry32(seed + 7);
  const halves = (M: Float32Array): [Float32Array, Float32Array] => {
    const n = M.length / d;
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    shuffle(idx, rand);
    const h = Math.floor(n / 2);
    return [takeRows(M, d, idx.slice(0, h).sort()), takeRows(M, d, idx.slice(h).sort())];
  };
  const [trFit, trHeld] = halves(zTrain.mu);
  const [teFit, teHeld] = halves(zTest.mu);
  const ctl = separabilityReport({ idTrain: trFit, oodTrain: teFit, idTest: trHeld, oodTest: teHeld, d, svm: svmOpts });
  const ctlOc = oneClassReport({ idTrain: trFit, idTest: trHeld, oodTest: teHeld, d });
  table.push({
    pair: `${idName} train vs ${idName} test (control)`, features: `latent codes mu(x) (d = ${d})`,
    fit: { positive: ctl.counts.idTrain, negative: ctl.counts.oodTrain }, heldOut: { positive: ctl.counts.idTest, negative: ctl.counts.oodTest },
    positiveAccuracy: ctl.positiveAccuracy, negativeAccuracy: ctl.negativeAccuracy, auroc: ctl.auroc, oneClassAuroc: ctlOc.auroc,
  });
  lap('svm', t);

  return {
    t0, timings, model, bn, seed, k, embed, batchSize, C, stripRows, idName, slugs, idTrain, idTest, oods, zTrain, zTest, zOod, d, nPix,
    shape: [ch, hh, ww], pairs, table, held, project, setsInfo, ctl, ctlOc, progress,
  };
}
