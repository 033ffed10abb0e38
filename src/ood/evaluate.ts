// The OoD evaluation pipeline, one layer above the detectors (src/scores) and below every front end (the CLI's
// `eval`, the demo, the benchmark runner, the service): detectors x BatchNorm modes x datasets -> per-sample
// scores -> the metrics table (AUROC, AUPR-IN/OUT, FPR95, bootstrap intervals; Chen 2021, sections 3.2-3.3).
// It computes; report.ts writes files.
import { performance } from 'node:perf_hooks';
import { OodgenError } from '../errors.js';
import type { PreprocessingRecord } from '../data/types.js';
import type { GenerativeModel } from '../models/types.js';
import { checkImagesFit } from '../models/capabilities.js';
import { bootstrapMetrics, oodMetrics, METRIC_NAMES, type MetricName } from '../eval/metrics.js';
import { progress as progressBar } from '../data/progress.js';
import { parseBnMode, type BnMode } from '../scores/bn-mode.js';
import { createDetector, detectorSpec, reportRows, rowSeries, subsetBase } from '../scores/registry.js';
import { loadDetectorState, saveDetectorState } from '../scores/state.js';
import { scoreDataset, scoreDatasetAsync, scoreMixed, scoreMixedAsync, type ScoreDatasetResult } from '../scores/driver.js';
import { shardingGroup, withShardedScoring } from '../scores/sharded.js';
import type { ProcessGroup } from '../engine/distributed.js';
import type { Detector, DetectorOptions, ImageSource } from '../scores/types.js';

/** A named image set to evaluate (the dataset layer's ImageSet fits). */
export interface EvalSet extends ImageSource {
  /** The dataset spec or a label, used in tables and file names. */
  name: string;
  preprocessing?: PreprocessingRecord | null;
}

export interface EvaluateOptions {
  /** The model, or several (for ensemble / multi-model detectors; single-model detectors use the first). */
  model: GenerativeModel | GenerativeModel[];
  /** Registered detector names (created with `detectorOptions`), or ready Detector instances. */
  detectors: (string | Detector)[];
  /** In-distribution test set. */
  id: EvalSet;
  /** OoD sets (the positive class). */
  ood: EvalSet[];
  /** BatchNorm modes (default ['eval']). */
  bn?: (BnMode | string)[];
  /** Options of the named detectors (k, samples, seed, decodeBatch, ...); the seed defaults to `seed`. */
  detectorOptions?: DetectorOptions;
  /** Images per batch (default 100). */
  batchSize?: number;
  /** Seed of the detectors' noise, the mixed-batch shuffle and the bootstrap (default 0). */
  seed?: number;
  /** Bootstrap replicates for 95% intervals (default 200; 0: none). */
  bootstrap?: number;
  /** Shuffle all sets together into each batch (BatchNorm batch statistics then mix ID and OoD). */
  mixedBatches?: boolean;
  /**
   * In-distribution data for detectors that need fitting (never OoD data), and a run folder whose
   * `detectors/NAME.*` state is loaded when present and written after fitting.
   */
  fit?: { data?: EvalSet; runDir?: string };
  /** Progress bars on a TTY (default true). */
  progressBars?: boolean;
  log?: (s: string) => void;
  /**
   * Makes fitting and scoring interruptible (Ctrl-C): the event loop gets a turn after every batch (of a fit too) and every optimizer
   * step of a stepped detector (likelihood regret), and when the signal aborts, evaluate() rejects with
   * signal.reason within one step, its native memory freed and nothing returned. Without a signal the scoring
   * runs without pausing, as before. Not used inside a sharded (processGroup) pass, whose ranks do not pause.
   */
  signal?: AbortSignal;
  /**
   * Shard every scoring pass over the ranks of this c10d group (src/scores/sharded.ts; ood/distributed.ts joins
   * one from the launcher's environment): each rank scores a block of batches, all ranks get every score in the
   * original order, so the result equals one process's. Rank 0 alone saves fitted detector state.
   */
  processGroup?: ProcessGroup | null;
}

export type Ci = Record<MetricName, [number, number]>;

/** One row of the results table: a report row of a detector under one BN mode, ID vs one OoD set. */
export interface EvalRow {
  score: string;
  bn: BnMode;
  ood: string;
  AUROC: number; 'AUPR-IN': number; 'AUPR-OUT': number; FPR95TPR: number;
  ci: Ci | null;
  nId: number;
  nOod: number;
  /** Mean raw value (log-likelihood in nats, bpd, ...) of ID and OoD, for the seed's "higher OoD likelihood" reading. */
  meanId: number;
  meanOod: number;
  meanOf: string;
}

export interface EvalResult {
  rows: EvalRow[];
  /** Detector names, in order. */
  scores: string[];
  bn: BnMode[];
  /** ID first, then the OoD sets. */
  sets: { name: string; n: number; role: 'id' | 'ood'; preprocessing: PreprocessingRecord | null }[];
  /** raw[detector][bn][set index] */
  raw: Record<string, Record<string, ScoreDatasetResult[]>>;
  /** Settings of each detector, for provenance. */
  settings: Record<string, Record<string, unknown>>;
  /** Seconds per `detector/bn` (0 for one taken from another's pass: `derived`). */
  seconds: Record<string, number>;
  /** Detectors not scored but taken from another's results (DetectorSpec.subsetOf): name -> the other. */
  derived: Record<string, string>;
  batchSize: number;
  batching: 'per-dataset' | 'mixed';
  /** A sentence for reports on how batches were formed. */
  batchingNote: string;
  bootstrap: number;
  seed: number;
  /** What was fitted or loaded, per fitted detector. */
  fitted: Record<string, string>;
}

const meanOf = (a: Float32Array): number => {
  let s = 0, n = 0;
  for (const v of a) if (Number.isFinite(v)) { s += v; n++; }
  return n ? s / n : NaN;
};

/** Fits (or loads the saved state of) a detector that needs it; returns a sentence saying which. */
async function prepare(det: Detector, o: EvaluateOptions, batchSize: number, signal?: AbortSignal): Promise<string | null> {
  if (!det.fit) return null;
  const dir = o.fit?.runDir;
  if (dir && det.loadState && loadDetectorState(dir, det)) return `loaded from ${dir}/detectors/${det.name}.*`;
  const data = o.fit?.data;
  if (!data) throw new OodgenError(`detector '${det.name}' must be fitted on in-distribution data first: give fit.data (ID training or validation images) or a run folder with a saved state`);
  await det.fit(data, { batchSize, data: data.name, signal });
  const group = o.processGroup ?? shardingGroup();
  if (group && group.rank !== 0) return `fitted on ${data.name} (${data.shape[0]} images)`;
  if (dir && det.saveState) saveDetectorState(dir, det);
  return `fitted on ${data.name} (${data.shape[0]} images)` + (dir && det.saveState ? `, saved in ${dir}/detectors/` : '');
}

/** Runs detectors x BN modes over the ID and OoD sets and computes the metrics table. */
export async function evaluate(o: EvaluateOptions): Promise<EvalResult> {
  return o.processGroup ? withShardedScoring(o.processGroup, () => evaluateHere(o)) : evaluateHere(o);
}

async function evaluateHere(o: EvaluateOptions): Promise<EvalResult> {
  const log = o.log ?? (() => undefined);
  if (o.ood.length === 0) throw new OodgenError('evaluate: give at least one OoD dataset');
  if (o.detectors.length === 0) throw new OodgenError('evaluate: give at least one detector');
  const models = Array.isArray(o.model) ? o.model : [o.model];
  const seed = o.seed ?? 0;
  const reps = o.bootstrap ?? 200;
  const batchSize = o.batchSize ?? 100;
  const modes = (o.bn ?? ['eval']).map((b) => parseBnMode(b));
  const dopts: DetectorOptions = { seed, ...o.detectorOptions };
  const make = (d: string | Detector): Detector => {
    if (typeof d !== 'string') return d;
    const spec = detectorSpec(d);
    return createDetector(d, (spec.models?.min ?? 1) > 1 || (spec.models?.max ?? 1) > 1 ? models : models[0]!, dopts);
  };
  // Create every detector once up front, so a bad name or an incompatible model fails before any work.
  const first = o.detectors.map(make);
  // The table rows come from the registered spec, so a ready-made instance must be registered too.
  for (const d of first) detectorSpec(d.name);
  const names = first.map((d) => d.name);
  if (new Set(names).size !== names.length) throw new OodgenError(`evaluate: detector listed twice (${names.join(', ')})`);
  const sets = [o.id, ...o.ood];
  for (const s of sets) for (const m of models) checkImagesFit(m, s, s.name);
  // Interruptible only in one process: a sharded pass must not leave its peer ranks waiting in a collective.
  const signal = o.processGroup || shardingGroup() ? undefined : o.signal;
  signal?.throwIfAborted();
  const fitted: Record<string, string> = {};
  for (const d of first) {
    const how = await prepare(d, o, batchSize, signal);
    if (how) { fitted[d.name] = how; log(`  ${d.name}: ${how}`); }
  }
  // A detector whose results are another's (DetectorSpec.subsetOf: the ELBO of the components), both asked for by
  // name (so with the same options), is taken from the other's pass instead of scored again.
  const derivedFrom = new Map<string, string>();
  for (const d of o.detectors) {
    const base = typeof d === 'string' ? subsetBase(d) : null;
    if (base && o.detectors.includes(base)) derivedFrom.set(detectorSpec(d as string).name, base);
  }
  const bars = o.progressBars ?? true;
  const bar = (label: string, total: number) => (bars ? progressBar(label, total) : progressBar(label, 0, { minTotal: 1 }));

  const raw: EvalResult['raw'] = {};
  const seconds: Record<string, number> = {};
  signal?.throwIfAborted();
  for (const bn of modes) {
    for (const [di, proto] of first.entries()) {
      if (derivedFrom.has(proto.name)) continue;
      // A fresh detector per mode (same seed), so every mode sees the same noise; a fitted one is reused.
      const det = bn === modes[0] || proto.fit ? proto : make(o.detectors[di]!);
      const t0 = performance.now();
      let res: ScoreDatasetResult[];
      if (o.mixedBatches) {
        const b = bar(`${det.name} bn=${bn} mixed`, sets.reduce((a, d) => a + d.shape[0], 0));
        const mo = { batchSize, bn, seed, onProgress: (d: number) => b.update(d) };
        try { res = signal ? await scoreMixedAsync(det, sets, { ...mo, signal }) : scoreMixed(det, sets, mo); } finally { b.stop(); }
      } else {
        res = [];
        for (const d of sets) {
          const b = bar(`${det.name} bn=${bn} ${d.name}`, d.shape[0]);
          const so = { batchSize, bn, onProgress: (n: number) => b.update(n) };
          try { res.push(signal ? await scoreDatasetAsync(det, d, { ...so, signal }) : scoreDataset(det, d, so)); } finally { b.stop(); }
        }
      }
      seconds[`${det.name}/${bn}`] = (performance.now() - t0) / 1000;
      log(`  ${det.name} bn=${bn}: ${seconds[`${det.name}/${bn}`]!.toFixed(1)} s`);
      (raw[det.name] ??= {})[bn] = res;
    }
    for (const [name, base] of derivedFrom) {
      const keep = Object.keys(detectorSpec(name).columns);
      (raw[name] ??= {})[bn] = raw[base]![bn]!.map((r) => ({ ...r, columns: Object.fromEntries(keep.map((c) => [c, r.columns[c]!])) }));
      seconds[`${name}/${bn}`] = 0;
      log(`  ${name} bn=${bn}: taken from ${base} (same numbers, no second pass)`);
    }
  }

  const rows: EvalRow[] = [];
  for (const name of names) {
    for (const bn of modes) {
      const res = raw[name]![bn]!;
      o.ood.forEach((d, j) => {
        for (const row of reportRows(detectorSpec(name))) {
          const id = rowSeries(row, res[0]!), ood = rowSeries(row, res[j + 1]!);
          const m = oodMetrics(id.score, ood.score);
          const b = reps > 0 ? bootstrapMetrics(id.score, ood.score, { reps, seed }) : null;
          rows.push({
            score: row.row, bn, ood: d.name,
            AUROC: m.AUROC, 'AUPR-IN': m['AUPR-IN'], 'AUPR-OUT': m['AUPR-OUT'], FPR95TPR: m.FPR95TPR,
            ci: b ? Object.fromEntries(METRIC_NAMES.map((k) => [k, [b[k].low, b[k].high]])) as Ci : null,
            nId: m.nId, nOod: m.nOod, meanId: meanOf(id.mean), meanOod: meanOf(ood.mean), meanOf: row.meanOf,
          });
        }
      });
    }
  }
  const r0 = raw[names[0]!]![modes[0]!]![0]!;
  const batchingNote = o.mixedBatches
    ? `Batches were **mixed**: the images of all sets were shuffled together (seed ${seed}) and scored in batches of ${r0.batchSize}, so BatchNorm batch statistics (modes enc/dec/both) came from ID and OoD images together.`
    : `Batches held **one dataset each** (batches of ${r0.batchSize}, in order; a short last batch is filled up with the preceding images of the same set), so BatchNorm batch statistics (modes enc/dec/both) came from that dataset alone. \`--mixed-batches\` mixes them.`;
  return {
    rows, scores: names, bn: modes,
    sets: sets.map((s, i) => ({ name: s.name, n: s.shape[0], role: i === 0 ? 'id' as const : 'ood' as const, preprocessing: s.preprocessing ?? null })),
    raw, settings: Object.fromEntries(first.map((d) => [d.name, d.settings()])), seconds, derived: Object.fromEntries(derivedFrom),
    batchSize: r0.batchSize, batching: o.mixedBatches ? 'mixed' : 'per-dataset', batchingNote, bootstrap: reps, seed, fitted,
  };
}
