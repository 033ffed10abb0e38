// The seed's second claim, end to end (Chen 2021, Sec. 3.4, Table 3.1, Figs. 3.9-3.11): even where the likelihood
// fails, ID and OoD posterior means are separated by a hyperplane, and moving an OoD code along the hyperplane's
// normal turns its reconstruction into an ID-looking image.
//
// runLatentAnalysis encodes the sets (encode.ts), fits and evaluates the linear SVM with its controls
// (separability.ts), the zero-shot one-class score (one-class.ts), draws the figures and writes results.json and
// results.md into outDir.
//
// Splits (all seeded by `seed`):
//   fit       ID train codes (+1)   vs  a random half of each OoD set (-1)
//   held out  ID test codes (+1)    vs  the other half of that OoD set (-1)
// so no image is both fitted and evaluated, and the ID held-out images come from the ID test split, which the
// generative model never saw either. The SVM weights classes as n / (2 n_c) (sklearn's 'balanced'), because the
// fitting split has twice as many ID as OoD codes when every set has the same size; without it the boundary would
// drift towards the OoD side and trade negative for positive accuracy.
// Controls: (a) the same SVM on random Gaussian projections of the raw pixels to the code dimension (the pixel-level
// separability a code must beat), on the very same images and splits; (b) ID train vs ID test codes, each split
// in random halves (fit on one half of each, evaluate on the other): the same distribution must not separate.
// One-class: a Gaussian with Ledoit-Wolf covariance fitted to the ID train codes only, squared Mahalanobis distance
// as the OoD score, AUROC on the held-out split (for control (b): fitted on the ID-train fitting half, ID-train
// held-out half as "ID" vs ID-test held-out half as "OoD").
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OodgenError } from '../errors.js';
import type { LatentModel } from '../models/types.js';
import { parseBnMode, BN_MODE_DESCRIPTIONS, type BnMode } from '../scores/bn-mode.js';
import { oodMetrics, type OodMetrics } from '../eval/metrics.js';
import { histogramChart, scatterChart } from '../eval/charts.js';
import { writeImageGrid } from '../eval/grid.js';
import { markdownTable } from '../eval/report.js';
import { decodeCodes, encodeSet, gatherImages, reconstructRows, DEFAULT_BATCH, type Encoded, type Images, type NllKind } from './encode.js';
import { embedSets, knnPurity } from './embed.js';
import { crossingT, hardestSamples, pathAlongNormal } from './interpolate.js';
import { mulberry32, shuffle, takeRows } from './matrix.js';
import { oneClassReport } from './one-class.js';
import { makeRandomProjection, separabilityReport, type SeparabilityReport } from './separability.js';

export type EmbedChoice = 'tsne' | 'umap' | 'both' | 'none';
export const EMBED_CHOICES: EmbedChoice[] = ['tsne', 'umap', 'both', 'none'];

export interface LatentAnalysisOptions {
  model: LatentModel;
  /** ID images used to fit (ID train split). */
  idTrain: Images;
  /** ID images held out (ID test split). */
  idTest: Images;
  /** OoD sets; each is split in random halves (fit / held out). `name` labels rows, files and legends. */
  ood: { name: string; set: Images }[];
  /** Name of the ID dataset for labels (default: idTrain.name or 'ID'). */
  idName?: string;
  outDir: string;
  /** BatchNorm statistics when encoding and decoding (default 'eval'; see src/scores/bn-mode.ts). */
  bn?: BnMode;
  /** At most this many images per set, evenly spaced over the set (default: all). */
  limit?: number;
  /** Seeds splits, projections, the SVM's coordinate order, embeddings and the ELBO noise (default 0). */
  seed?: number;
  /** 2-D maps to draw (default 'both'). */
  embed?: EmbedChoice;
  /** Hardest samples shown per side (default 8). */
  k?: number;
  /** Images per forward pass (default 128). */
  batchSize?: number;
  /** SVM inverse regularisation C on standardised codes (default 1). */
  svmC?: number;
  /** OoD codes shown in the interpolation strips (default 6). */
  stripRows?: number;
  /** Points in the 2-D maps (default 2000, stratified by set). */
  embedPoints?: number;
  /** Posterior samples in the ELBO (default 1). */
  nllSamples?: number;
  /** Provenance copied into results.json / results.md (checkpoint, command line, device, ...). */
  meta?: Record<string, unknown>;
  /** Progress: stage name and, for long stages, done / total. */
  onProgress?: (stage: string, done?: number, total?: number) => void;
}

export interface TableRow {
  pair: string;
  features: string;
  fit: { positive: number; negative: number };
  heldOut: { positive: number; negative: number };
  positiveAccuracy: number;
  negativeAccuracy: number;
  /** AUROC of -d (OoD positive). */
  auroc: number;
  /** AUROC of the one-class (Mahalanobis) score fitted on the positive fitting set only. */
  oneClassAuroc: number;
}

export interface SvmSummary {
  positiveAccuracy: number;
  negativeAccuracy: number;
  accuracy: number;
  trainAccuracy: number;
  metrics: OodMetrics;
  counts: SeparabilityReport['counts'];
  svm: { C: number; loss: string; classWeight: 'balanced'; iterations: number; converged: boolean; nSupport: number; normOfW: number; b: number };
  distances: { id: Quantiles; ood: Quantiles };
}

export interface Quantiles { min: number; q05: number; q25: number; median: number; q75: number; q95: number; max: number; mean: number }

export interface PairResult {
  ood: string;
  slug: string;
  latent: SvmSummary;
  randomProjection: SvmSummary & { pixels: number; dim: number };
  oneClass: { latent: OodMetrics; randomProjection: OodMetrics; shrinkage: number };
  /** The likelihood baseline on the same held-out images: score -ELBO (or the reconstruction term for an AE). */
  likelihood: { kind: NllKind; metrics: OodMetrics; spearmanWithDistance: number };
  strips: { rows: { index: number; distance: number; crossingT: number; ts: number[] }[]; crossingColumn: number; radius: number; note: string };
  /** index: row of the set as analysed (after the limit), ID test set for `id`, the OoD set for `ood`. */
  hardest: { id: { index: number; distance: number }[]; ood: { index: number; distance: number }[]; note: string };
  figures: Record<string, string>;
}

export interface LatentAnalysisResult {
  version: 1;
  id: string;
  model: { kind: string; decoder: string; zDim: number; channels: number; imageSize: number; width: number };
  bn: { mode: BnMode; description: string; batchSize: number };
  seed: number;
  limit: number | null;
  sets: { name: string; role: 'id-train' | 'id-test' | 'ood'; available: number; used: number; fit?: number; heldOut?: number }[];
  split: string;
  table: TableRow[];
  pairs: PairResult[];
  control: { idVsId: SvmSummary; oneClass: OodMetrics };
  /** knnPurity10: mean fraction of each point's 10 nearest map neighbours from its own set, ID train and test counted as one. */
  maps: { method: 'tsne' | 'umap'; file: string; points: number; knnPurity10: number }[];
  meta: Record<string, unknown>;
  timings: Record<string, number>;
}

export const SPLIT_DESCRIPTION =
  'SVM fitted on ID train codes (+1) vs a seeded random half of each OoD set (-1); evaluated on ID test codes vs the other half. ' +
  'Classes weighted n/(2 n_c). Random-projection control: the same SVM and splits on the raw pixels projected to the code dimension ' +
  '(Gaussian N(0,1/d) matrix). ID-vs-ID control: ID train vs ID test codes, each split in seeded random halves (fit / evaluate). ' +
  'One-class: Gaussian (Ledoit-Wolf) fitted to the positive fitting codes only, squared Mahalanobis distance as the OoD score.';

/** File-name form of a set name: `mnist:test` -> `mnist-test`. */
export function slugOf(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'set';
}

function evenlySpaced(n: number, limit: number | undefined): Int32Array {
  const m = limit === undefined ? n : Math.min(n, limit);
  return Int32Array.from({ length: m }, (_, i) => Math.floor((i * n) / m));
}

function subset(set: Images, idx: Int32Array): Images {
  if (idx.length === set.shape[0]) return set;
  const [, c, h, w] = set.shape;
  return { images: gatherImages(set, idx), shape: [idx.length, c, h, w], name: set.name };
}

function pixelsOf(set: Images): Float32Array {
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

function summary(r: SeparabilityReport, C: number): SvmSummary {
  let nrm = 0;
  for (const v of r.svm.w) nrm += v * v;
  return {
    positiveAccuracy: r.positiveAccuracy, negativeAccuracy: r.negativeAccuracy, accuracy: r.accuracy, trainAccuracy: r.trainAccuracy,
    metrics: r.metrics, counts: r.counts,
    svm: { C, loss: r.svm.loss, classWeight: 'balanced', iterations: r.svm.iterations, converged: r.svm.converged, nSupport: r.svm.nSupport, normOfW: Math.sqrt(nrm), b: r.svm.b },
    distances: { id: quantiles(r.idTestDistances), ood: quantiles(r.oodTestDistances) },
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Table 3.1's layout as Markdown: one row per (pair, feature space). */
export function latentTable(rows: TableRow[]): string {
  return markdownTable(
    ['ID vs OoD', 'features', 'fit (ID / OoD)', 'held out (ID / OoD)', 'positive acc.', 'negative acc.', 'AUROC(-d)', 'one-class AUROC'],
    rows.map((r) => [
      r.pair, r.features, `${r.fit.positive} / ${r.fit.negative}`, `${r.heldOut.positive} / ${r.heldOut.negative}`,
      pct(r.positiveAccuracy), pct(r.negativeAccuracy), r.auroc.toFixed(3), r.oneClassAuroc.toFixed(3),
    ]),
  );
}

/** Runs the whole analysis and writes results.json, results.md and the figures into outDir. */
export async function runLatentAnalysis(o: LatentAnalysisOptions): Promise<LatentAnalysisResult> {
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
  const held: { dId: Float64Array; dOod: Float64Array; heldIdx: Int32Array; report: SeparabilityReport }[] = [];
  const setsInfo: LatentAnalysisResult['sets'] = [
    { name: `${idName} train`, role: 'id-train', available: o.idTrain.shape[0], used: idTrain.shape[0], fit: idTrain.shape[0] },
    { name: `${idName} test`, role: 'id-test', available: o.idTest.shape[0], used: idTest.shape[0], heldOut: idTest.shape[0] },
  ];
  for (let s = 0; s < oods.length; s++) {
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
    held.push({ dId: lat.idTestDistances, dOod: lat.oodTestDistances, heldIdx, report: lat });
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

  // 4. Figures.
  t = Date.now();
  const scaleOf = Math.max(1, Math.round(56 / model.config.imageSize));
  for (let s = 0; s < oods.length; s++) {
    const p = pairs[s]!, h = held[s]!, oodSet = oods[s]!.set, slug = p.slug;
    progress(`figures ${p.ood}`);
    const idLabel = `${idName} test (ID)`, oodLabel = `${p.ood} held out (OoD)`;
    const f = (key: string, name: string) => { p.figures[key] = name; return join(o.outDir, name); };

    await histogramChart(f('dist', `dist-hist-${slug}.png`), [{ name: idLabel, values: h.dId }, { name: oodLabel, values: h.dOod }], {
      title: `Signed distance to the ID/OoD hyperplane: ${idName} vs ${p.ood}`,
      subtitle: `linear SVM on latent codes (d = ${d}); held-out positive acc. ${pct(p.latent.positiveAccuracy)}, negative acc. ${pct(p.latent.negativeAccuracy)}, AUROC(-d) ${p.latent.metrics.AUROC.toFixed(3)}`,
      xLabel: 'd = (w^T mu(x) + b) / |w|   (> 0: ID side)',
    });

    // Interpolation strips: OoD held-out codes classified OoD, moved along the unit normal through the boundary.
    const normal = h.report.svm.normal();
    const cand = Array.from(h.heldIdx.keys()).filter((i) => h.dOod[i]! < 0);
    const pool = cand.length > 0 ? cand : hardestSamples(h.dOod.map((v) => -v), Math.min(stripRows, h.dOod.length), 'ood').map((x) => x.index);
    const pick = Int32Array.from(pool);
    shuffle(pick, mulberry32(seed + 31 * (s + 1)));
    const rowsPicked = Array.from(pick.slice(0, Math.min(stripRows, pick.length))).sort((a, b) => h.dOod[a]! - h.dOod[b]!);
    // t: 0, half way, the crossing, then beyond it by R/4, R/2, R and 2R, with R the RMS norm of the ID test codes
    // (the radius of the ID code cloud). The hyperplane sits close to both sets - typical |d| is a small fraction of R -
    // so a strip that stopped just past the boundary would show almost no change; the far columns show what the
    // normal direction encodes.
    let sq = 0;
    for (const v of zTest.mu) sq += v * v;
    const R = Math.sqrt(sq / zTest.n);
    const beyond = [0.25, 0.5, 1, 2];
    const cols = 3 + beyond.length;
    const codesAll: number[] = [];
    const stripMeta: PairResult['strips']['rows'] = [];
    for (const r of rowsPicked) {
      const gi = h.heldIdx[r]!;
      const z = zOod[s]!.mu.subarray(gi * d, (gi + 1) * d);
      const tc = crossingT(z, h.report.svm);
      const ts = [0, tc / 2, tc, ...beyond.map((f) => tc + f * R)];
      codesAll.push(...pathAlongNormal(z, normal, ts));
      stripMeta.push({ index: gi, distance: h.dOod[r]!, crossingT: tc, ts });
    }
    const per = nPix;
    const decoded = decodeCodes(model, codesAll, { bn, batchSize: Math.max(1, codesAll.length / d) });
    const inputs = gatherImages(oodSet, stripMeta.map((m) => m.index));
    const grid = new Float32Array(stripMeta.length * (cols + 1) * per);
    stripMeta.forEach((_, r) => {
      grid.set(inputs.subarray(r * per, (r + 1) * per), r * (cols + 1) * per);
      grid.set(decoded.subarray(r * cols * per, (r + 1) * cols * per), (r * (cols + 1) + 1) * per);
    });
    await writeImageGrid(f('interp', `interp-${slug}.png`), grid, [stripMeta.length * (cols + 1), ch, hh, ww], { nrow: cols + 1, scale: scaleOf, padding: 2 });
    p.strips = {
      rows: stripMeta, crossingColumn: 3, radius: R,
      note: `rows: OoD held-out images classified OoD (seeded pick, sorted by d); column 0: the input; columns 1-${cols}: decoder means of mu(x) + t n, ` +
        `n = w/|w| (towards ID), t = 0, t_c/2, t_c (on the hyperplane, column 3), then t_c + R/4, R/2, R, 2R past it; ` +
        `t_c = -d(x) is the distance to the boundary, R = ${R.toFixed(2)} the RMS norm of the ID test codes`,
    };

    // Hardest samples: ID test codes deepest on (or closest to) the OoD side, OoD held-out codes deepest on the ID side.
    const hid = hardestSamples(h.dId, Math.min(k, h.dId.length), 'id');
    const hood = hardestSamples(h.dOod, Math.min(k, h.dOod.length), 'ood');
    p.hardest = {
      id: hid.map((x) => ({ index: x.index, distance: x.distance })), ood: hood.map((x) => ({ index: h.heldIdx[x.index]!, distance: x.distance })),
      note: 'index = row of the set as analysed (after the limit); id: ID test images with the smallest d, ood: held-out OoD images with the largest d',
    };
    const idRows = hid.map((x) => x.index), oodRows = p.hardest.ood.map((x) => x.index);
    const blocks = [
      gatherImages(idTest, idRows), reconstructRows(model, idTest, idRows, { bn, batchSize }),
      gatherImages(oodSet, oodRows), reconstructRows(model, oodSet, oodRows, { bn, batchSize }),
    ];
    const kk = Math.max(hid.length, hood.length);
    const hard = new Float32Array(4 * kk * per).fill(1);
    blocks.forEach((b, r) => hard.set(b, r * kk * per));
    await writeImageGrid(f('hardest', `hardest-${slug}.png`), hard, [4 * kk, ch, hh, ww], { nrow: kk, scale: scaleOf, padding: 2 });

    const nllLabel = p.likelihood.kind === 'elbo' ? '-ELBO(x), nats (upper bound on -log p(x))' : '-log p(x | mu(x)), nats (reconstruction; the model has no q(z|x))';
    const nllOodAll = zOod[s]!.nll!;
    await scatterChart(f('distVsNll', `dist-vs-nll-${slug}.png`), [
      { name: idLabel, x: h.dId, y: zTest.nll! },
      { name: oodLabel, x: h.dOod, y: Float32Array.from(h.heldIdx, (i) => nllOodAll[i]!) },
    ], {
      title: `Hyperplane distance vs likelihood: ${idName} vs ${p.ood}`,
      subtitle: `AUROC of -d ${p.latent.metrics.AUROC.toFixed(3)}; AUROC of ${p.likelihood.kind === 'elbo' ? '-ELBO' : '-log p(x|mu)'} ${p.likelihood.metrics.AUROC.toFixed(3)}; Spearman(d, nll) ${p.likelihood.spearmanWithDistance.toFixed(2)}`,
      xLabel: 'd = (w^T mu(x) + b) / |w|   (> 0: ID side)', yLabel: nllLabel, seed,
    });

    await writeFile(join(o.outDir, `distances-${slug}.json`), JSON.stringify({
      note: 'held-out signed distances d (positive = ID side) and the likelihood score of the same images; `scores` files for `oodgen metrics` use -d',
      idTest: Array.from(h.dId), oodHeldOut: Array.from(h.dOod), oodHeldOutIndex: Array.from(h.heldIdx),
      nllIdTest: Array.from(zTest.nll!), nllOodHeldOut: Array.from(h.heldIdx, (i) => nllOodAll[i]!), nllKind: p.likelihood.kind,
    }) + '\n');
  }

  // 2-D maps of all codes, coloured by set.
  const maps: LatentAnalysisResult['maps'] = [];
  const methods: ('tsne' | 'umap')[] = embed === 'both' ? ['tsne', 'umap'] : embed === 'none' ? [] : [embed];
  const embedInput = [
    { label: `${idName} train`, X: zTrain.mu }, { label: `${idName} test`, X: zTest.mu },
    ...oods.map((s, i) => ({ label: s.name, X: zOod[i]!.mu })),
  ];
  for (const method of methods) {
    progress(`map ${method}`);
    const te = Date.now();
    const e = embedSets(embedInput, d, { method, seed, maxPoints: o.embedPoints ?? 2000 });
    const m = e.set.length;
    // Purity with ID train and ID test as one label (they should mix): how well the map keeps ID and each OoD set apart.
    const merged = Int32Array.from(e.set, (v) => (v <= 1 ? 0 : v));
    const purity = m > 11 ? knnPurity(e.coords, 2, merged, 10) : NaN;
    const file = `map-${method}.png`;
    await scatterChart(join(o.outDir, file), e.labels.map((label, si) => {
      const xs: number[] = [], ys: number[] = [];
      for (let i = 0; i < m; i++) if (e.set[i] === si) { xs.push(e.coords[2 * i]!); ys.push(e.coords[2 * i + 1]!); }
      return { name: label, x: xs, y: ys };
    }), {
      title: `${method === 'tsne' ? 't-SNE' : 'UMAP'} of latent codes mu(x), coloured by set`,
      subtitle: `${m} codes (stratified subsample), d = ${d}; 10-NN ID/OoD purity ${purity.toFixed(3)} (ID train and test as one set)`,
      xLabel: `${method} 1`, yLabel: `${method} 2`, seed, opacity: 0.6,
    });
    maps.push({ method, file, points: m, knnPurity10: purity });
    lap(`map-${method}`, te);
  }
  lap('figures', t);
  timings.total = (Date.now() - t0) / 1000;

  const cfg = model.config;
  const result: LatentAnalysisResult = {
    version: 1,
    id: idName,
    model: { kind: cfg.kind, decoder: cfg.decoder, zDim: cfg.zDim, channels: cfg.channels, imageSize: cfg.imageSize, width: cfg.width },
    bn: { mode: bn, description: BN_MODE_DESCRIPTIONS[bn], batchSize },
    seed,
    limit: o.limit ?? null,
    sets: setsInfo,
    split: SPLIT_DESCRIPTION,
    table,
    pairs,
    control: { idVsId: summary(ctl, C), oneClass: ctlOc.metrics },
    maps,
    meta: o.meta ?? {},
    timings,
  };
  await writeFile(join(o.outDir, 'results.json'), JSON.stringify(result, null, 2) + '\n');
  await writeFile(join(o.outDir, 'results.md'), latentMarkdown(result));
  return result;
}

/** results.md: provenance, Table 3.1, the likelihood baseline, the figures. Image links are relative to outDir. */
export function latentMarkdown(r: LatentAnalysisResult, imgPrefix = ''): string {
  const lines: string[] = [];
  const meta = r.meta;
  lines.push(`## Latent ID/OoD semantics: ${r.id} (${r.model.kind}, ${r.model.decoder} decoder, z = ${r.model.zDim})`, '');
  if (typeof meta.command === 'string') lines.push('```', meta.command, '```', '');
  if (typeof meta.checkpoint === 'string') lines.push(`Checkpoint: \`${meta.checkpoint}\`. `);
  lines.push(`BatchNorm: ${r.bn.mode} (${r.bn.description}), batches of ${r.bn.batchSize}. Seed ${r.seed}. ` +
    (r.limit !== null ? `At most ${r.limit} images per set (evenly spaced).` : 'All images of every set.'), '');
  lines.push(latentTable(r.table), '');
  lines.push('Positive accuracy: held-out ID codes on the ID side (d >= 0); negative accuracy: held-out OoD codes on the OoD side. ' +
    'AUROC(-d): the signed distance as an OoD score (OoD positive). One-class AUROC: squared Mahalanobis distance to the ID train codes (zero-shot, no OoD data).', '');
  lines.push(`Split: ${r.split}`, '');
  const like = markdownTable(['ID vs OoD', 'likelihood score', 'AUROC (likelihood)', 'AUROC(-d)', 'Spearman(d, score)', 'SVM passes / converged'],
    r.pairs.map((p) => [`${r.id} vs ${p.ood}`, p.likelihood.kind === 'elbo' ? '-ELBO' : '-log p(x|mu)', p.likelihood.metrics.AUROC.toFixed(3), p.latent.metrics.AUROC.toFixed(3),
      p.likelihood.spearmanWithDistance.toFixed(2), `${p.latent.svm.iterations} / ${p.latent.svm.converged ? 'yes' : 'no'}`]));
  lines.push('The likelihood on the same held-out images, for comparison:', '', like, '');
  for (const p of r.pairs) {
    const fig = (key: string, alt: string) => (p.figures[key] ? `![${alt}](${imgPrefix}${p.figures[key]})` : '');
    lines.push(`### ${r.id} vs ${p.ood}`, '');
    lines.push(fig('dist', `signed distance histogram, ${r.id} vs ${p.ood}`), '');
    lines.push(`Signed distance d of held-out codes (Fig. 3.9a,b).`, '');
    lines.push(fig('interp', `interpolation strips, ${p.ood} towards ${r.id}`), '');
    lines.push(`Moving OoD codes along the normal (Fig. 3.10): ${p.strips.note}.`, '');
    lines.push(fig('hardest', `hardest samples, ${r.id} vs ${p.ood}`), '');
    lines.push(`Hardest samples (Fig. 3.11a): row 1 the ${p.hardest.id.length} ID test images with the smallest d, row 2 their reconstructions; ` +
      `row 3 the ${p.hardest.ood.length} held-out OoD images with the largest d, row 4 their reconstructions.`, '');
    lines.push(fig('distVsNll', `distance vs likelihood, ${r.id} vs ${p.ood}`), '');
    lines.push('d against the likelihood score (Fig. 3.11b).', '');
  }
  for (const m of r.maps) {
    lines.push(`![${m.method} map of latent codes](${imgPrefix}${m.file})`, '');
    lines.push(`${m.method === 'tsne' ? 't-SNE' : 'UMAP'} of ${m.points} codes coloured by set (Fig. 3.9c); 10-NN ID/OoD purity ${m.knnPurity10.toFixed(3)} (ID train and test counted as one set).`, '');
  }
  return lines.join('\n') + '\n';
}
