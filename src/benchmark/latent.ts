// The benchmark's latent experiment (suite kind "latent"): Chen 2021 Sec. 3.4 on a zoo model, as a cached unit.
//
// One unit = one model x one ID set with the OoD sets of its pairs. It runs src/analysis's steps 1-3 (fitLatent:
// posterior means, the linear SVM ID vs OoD with its controls, the one-class score; the splits are described in
// analysis/latent-report.ts) without the figures, and adds one measured number for moving along the normal:
//
// C8, "moving an OoD code along w makes its reconstruction look ID" (Fig. 3.10), measured as: take the held-out
// OoD codes the SVM places on the OoD side (d < 0), move each along the unit normal n = w/|w| to the depth of a
// typical ID code, z' = z + (m - d(z)) n with m the median signed distance of the held-out ID codes, decode z'
// (decoder mean), encode the image again and ask the same SVM where that code lies. The baseline is the same round
// trip without the move (decode z, re-encode). Reported: the fraction of moved and of unmoved reconstructions whose
// re-encoded code is on the ID side (d >= 0), with 95% Wilson intervals.
// Why this judge rather than the model's per-sample likelihood: the likelihood is what the thesis shows failing on
// these pairs (the categorical VAE ranks MNIST *more* likely), so it cannot say what "looks ID" means; the
// hyperplane is the thesis's own definition of ID in code space, it is already fitted (no new classifier, no
// extra OoD data), and it judges the *image*: the moved code itself is not reused, only what the encoder makes of
// the decoded picture. The unmoved round trip is the control that the decode / re-encode alone does not drag codes
// to the ID side. Its limit: the judge shares the encoder with the model, so an image the encoder maps to ID
// codes but a person would not call ID would still count; the report grids (and `oodgen latent`'s strips) are the
// visual check.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { OodgenError } from '../errors.js';
import { loadRun } from '../train/run.js';
import { capabilitiesOf } from '../models/capabilities.js';
import type { LatentModel } from '../models/types.js';
import type { BnMode } from '../scores/bn-mode.js';
import { macrotaskTurn } from '../scores/steps.js';
import { fitLatent } from '../analysis/latent-fit.js';
import { decodeCodes, encodeSet, type Images } from '../analysis/encode.js';
import type { LinearSvm } from '../analysis/svm.js';
import type { EvalSet } from '../ood/evaluate.js';
import { hashOf } from './cache.js';
import { availablePairs, dataIdentity, type Pair } from './pairs.js';
import { modelEntry, type ModelEntry, type ResolveOptions } from './models.js';
import type { LatentExperiment, Suite } from './suite.js';

/** Bumped when a latent unit's stored content or meaning changes. */
export const LATENT_FORMAT = 2;

/** A proportion k / n with its 95% Wilson score interval. */
export interface Proportion { k: number; n: number; p: number; ci: [number, number] }

/** k successes of n with the 95% Wilson score interval (z = 1.96); n = 0 gives p = NaN and [0, 1]. */
export function wilson(k: number, n: number, z = 1.959963984540054): Proportion {
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 0 && n >= 0 && k <= n)) throw new OodgenError(`wilson: need integers 0 <= k <= n, got ${k} / ${n}`);
  if (n === 0) return { k, n, p: NaN, ci: [0, 1] };
  const p = k / n, z2 = z * z;
  const mid = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { k, n, p, ci: [Math.max(0, mid - half), Math.min(1, mid + half)] };
}

export interface LatentPairResult {
  pair: string;
  ood: string;
  fit: { positive: number; negative: number };
  /** Table 3.1: held-out ID codes on the ID side (positive) and held-out OoD codes on the OoD side (negative). */
  positive: Proportion;
  negative: Proportion;
  /** AUROC of -d on the held-out codes (OoD positive). */
  auroc: number;
  oneClassAuroc: number;
  /** The same SVM on random projections of the pixels (the separability the pixels already give). */
  pixels: { positive: Proportion; negative: Proportion };
  /** -ELBO (or the AE's reconstruction term) on the same held-out images. */
  likelihoodAuroc: number;
  /** Moving OoD codes along the normal (C8); see the file comment. `pixels`: the pixel control's SVM as the judge. */
  move: { depth: number; moved: Proportion; unmoved: Proportion; pixels: { moved: Proportion; unmoved: Proportion } | null };
  svm: { iterations: number; converged: boolean };
}

export interface LatentUnitResult {
  format: number;
  kind: 'latent';
  key: string;
  experiment: string;
  model: string;
  bn: BnMode;
  /** ID fitting set (the model's training data) and held-out ID set. */
  idTrain: string;
  id: string;
  limit: number;
  pairs: LatentPairResult[];
  /** ID train vs ID test codes (must not separate). */
  control: { positive: Proportion; negative: Proportion; auroc: number };
  seconds: number;
}

export interface LatentUnit {
  kind: 'latent';
  key: string;
  experiment: LatentExperiment;
  entry: ModelEntry;
  idTrain: string;
  id: string;
  pairs: Pair[];
  limit: number;
  images: number;
}

/** Every latent unit of one experiment; what cannot run goes to `skipped` with the reason. */
export function planLatent(ex: LatentExperiment, s: Suite, zoo: string, cap: number | undefined, skipped: { what: string; why: string }[], resolve: ResolveOptions = {}): LatentUnit[] {
  const units: LatentUnit[] = [];
  const { byId } = availablePairs(ex.name, ex.pairs, skipped);
  const limit = Math.min(cap ?? Infinity, ex.limit ?? s.limit);
  for (const ref of ex.models) {
    let entry: ModelEntry;
    try {
      entry = modelEntry(ref, zoo, resolve);
    } catch (e) {
      skipped.push({ what: `${ex.name}: model ${ref}`, why: (e as Error).message });
      continue;
    }
    const probe = loadRun(entry.main.dir, { device: 'cpu' });
    const caps = capabilitiesOf(probe.model);
    probe.model.dispose();
    if (!caps.includes('encode') || !caps.includes('decode')) {
      skipped.push({ what: `${ex.name}: ${entry.name}`, why: `the latent analysis needs an encoder and a decoder; a model of kind '${entry.main.config.model.kind}' lacks ${caps.includes('encode') ? 'decode' : 'encode'}` });
      continue;
    }
    // ID codes to fit on are the model's own training data (as `oodgen latent` fits on ID:train).
    const cfg = entry.main.config;
    const train = dataIdentity(cfg.data.train);
    if (!train.ok) {
      skipped.push({ what: `${ex.name}: ${entry.name}`, why: `its training data ${cfg.data.train} (the ID codes the SVM fits on) is not here: ${train.why}` });
      continue;
    }
    if (limit < 8) {
      skipped.push({ what: `${ex.name}: ${entry.name}`, why: `at most ${limit} images per set; the latent analysis needs at least 8 (halves of >= 4 per OoD set)` });
      continue;
    }
    for (const [id, group] of byId) {
      const data = [cfg.data.train, id, ...group.map((p) => p.ood)].map((spec) => ({ spec, source: (dataIdentity(spec) as { source: string }).source }));
      const key = hashOf({
        v: LATENT_FORMAT, kind: 'latent', model: entry.main.hash, bn: ex.bn, svmC: ex.svmC, data, limit,
        size: cfg.model.imageSize, channels: cfg.model.channels, seed: s.seed, batchSize: s.batchSize,
      });
      units.push({ kind: 'latent', key, experiment: ex, entry, idTrain: cfg.data.train, id, pairs: group, limit, images: limit * (group.length + 2) });
    }
  }
  return units;
}

type LoadSet = (spec: string, limit: number, size: number, channels: number) => Promise<EvalSet>;

/** Runs one latent unit (no files kept; `scratch` is a folder it may create and removes). */
/** One latent unit; `signal` (the benchmark's stop-now signal) aborts it between stages, rejecting with its reason. */
export async function runLatentUnit(u: LatentUnit, s: Suite, device: string, loadSet: LoadSet, scratch: string, signal?: AbortSignal): Promise<LatentUnitResult> {
  const run = loadRun(u.entry.main.dir, { device });
  const model = run.model as LatentModel;
  try {
    const cfg = model.config;
    const load = (spec: string) => loadSet(spec, u.limit, cfg.imageSize, cfg.channels);
    const idTrain = await load(u.idTrain);
    const idTest = await load(u.id);
    const oods: { name: string; set: Images }[] = [];
    for (const p of u.pairs) oods.push({ name: p.ood, set: await load(p.ood) });
    const bn = u.experiment.bn;
    const fit = await fitLatent({
      model, idTrain, idTest, ood: oods, idName: u.id, outDir: scratch, bn, seed: s.seed, embed: 'none', batchSize: s.batchSize, svmC: u.experiment.svmC, signal,
    });
    const pairs: LatentPairResult[] = [];
    for (let j = 0; j < u.pairs.length; j++) {
      if (signal) await macrotaskTurn(signal);
      const pr = fit.pairs[j]!, h = fit.held[j]!, row = fit.table[2 * j]!, pix = fit.table[2 * j + 1]!;
      const nId = row.heldOut.positive, nOod = row.heldOut.negative;
      const pc = (acc: number, n: number) => wilson(Math.round(acc * n), n);
      const oodCodes = fit.zOod[j]!.mu;
      const onOodSide = Array.from(h.heldIdx).filter((_, r) => h.dOod[r]! < 0);
      pairs.push({
        pair: u.pairs[j]!.name, ood: u.pairs[j]!.ood,
        fit: row.fit,
        positive: pc(row.positiveAccuracy, nId), negative: pc(row.negativeAccuracy, nOod),
        auroc: row.auroc, oneClassAuroc: row.oneClassAuroc,
        pixels: { positive: pc(pix.positiveAccuracy, pix.heldOut.positive), negative: pc(pix.negativeAccuracy, pix.heldOut.negative) },
        likelihoodAuroc: pr.likelihood.metrics.AUROC,
        move: await moveAlongNormal(model, h.report.svm, oodCodes, onOodSide, median(h.dId), { bn, batchSize: s.batchSize, pixelJudge: { project: fit.project, svm: h.pixels.svm } }),
        svm: { iterations: pr.latent.svm.iterations, converged: pr.latent.svm.converged },
      });
    }
    const ctl = fit.table[fit.table.length - 1]!;
    return {
      format: LATENT_FORMAT, kind: 'latent', key: u.key, experiment: u.experiment.name, model: u.entry.name, bn, idTrain: u.idTrain, id: u.id,
      limit: Number.isFinite(u.limit) ? u.limit : -1, pairs,
      control: { positive: wilson(Math.round(ctl.positiveAccuracy * ctl.heldOut.positive), ctl.heldOut.positive), negative: wilson(Math.round(ctl.negativeAccuracy * ctl.heldOut.negative), ctl.heldOut.negative), auroc: ctl.auroc },
      seconds: 0,
    };
  } finally {
    model.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }
}

function median(v: ArrayLike<number>): number {
  const s = Array.from(v).sort((a, b) => a - b);
  if (s.length === 0) throw new OodgenError('median of an empty set');
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * C8's number: rows `rows` of the n x d code matrix `codes`, moved along the SVM's unit normal to signed distance
 * `depth`, decoded, re-encoded and placed by the SVM; against the same round trip without the move.
 */
export async function moveAlongNormal(
  model: LatentModel, svm: Pick<LinearSvm, 'normal' | 'decision' | 'd'>, codes: Float32Array, rows: number[], depth: number,
  o: { bn: BnMode; batchSize: number; pixelJudge?: { project: (pixels: Float32Array) => Float32Array; svm: Pick<LinearSvm, 'decision'> } },
): Promise<LatentPairResult['move']> {
  const d = svm.d;
  const n = rows.length;
  const none = wilson(0, 0);
  if (n === 0) return { depth, moved: none, unmoved: none, pixels: o.pixelJudge ? { moved: none, unmoved: none } : null };
  const normal = svm.normal();
  const z = new Float32Array(n * d);
  rows.forEach((r, i) => z.set(codes.subarray(r * d, (r + 1) * d), i * d));
  const dist = svm.decision(z, n);
  const moved = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const t = depth - dist[i]!; // travel along n from d(z) to `depth`
    for (let k = 0; k < d; k++) moved[i * d + k] = z[i * d + k]! + t * normal[k]!;
  }
  const idSide = (dd: Float64Array) => wilson(dd.reduce((k, v) => k + (v >= 0 ? 1 : 0), 0), n);
  const side = async (c: Float32Array) => {
    const { channels, imageSize } = model.config;
    // Decoder means, clipped to the pixel range so they are images the encoder can take like any input.
    const img = decodeCodes(model, c, { bn: o.bn, batchSize: o.batchSize }).map((v) => Math.min(1, Math.max(0, v)));
    const enc = await encodeSet(model, { images: img, shape: [n, channels, imageSize, imageSize], name: 'reconstructions' }, { bn: o.bn, batchSize: o.batchSize });
    const pj = o.pixelJudge;
    return { codes: idSide(svm.decision(enc.mu, n)), pixels: pj ? idSide(pj.svm.decision(pj.project(img), n)) : null };
  };
  const a = await side(moved), b = await side(z);
  return { depth, moved: a.codes, unmoved: b.codes, pixels: a.pixels && b.pixels ? { moved: a.pixels, unmoved: b.pixels } : null };
}
