// The benchmark runner: a suite -> units (one model x detector x BatchNorm mode x ID set with its OoD sets), each
// evaluated by src/ood's evaluate() (the one evaluation loop) and cached by content (cache.ts). Plans every unit
// first, so bad names fail before work and the progress line knows what is left; then runs the units not cached,
// with an ETA; stops cleanly between units on an abort signal (the first Ctrl-C), or at once on a second signal
// that aborts the unit in progress without caching it (the second Ctrl-C); a rerun continues.
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { OodgenError } from '../errors.js';
import { loadDataset } from '../data/registry.js';
import { loadRun } from '../train/run.js';
import { runFitData } from '../scores/fit-run.js';
import { detectorNames, detectorSpec, reportRows, rowSeries, detectorsFor, subsetBase } from '../scores/registry.js';
import { detectorStatePaths } from '../scores/state.js';
import { macrotaskTurn } from '../scores/steps.js';
import type { LatentModel } from '../models/types.js';
import { evaluate, type EvalRow, type EvalSet } from '../ood/evaluate.js';
import { BenchCache, f32ToB64, hashOf, TIMING_FORMAT } from './cache.js';
import { availablePairs, dataIdentity, type Pair } from './pairs.js';
import { extraRefs, modelEntry, resolveRun, zooDir, type ModelEntry, type ResolvedRun, type TrainingStatus } from './models.js';
import { LATENT_FORMAT as LATENT_FORMAT_CHECK, planLatent, runLatentUnit, type LatentUnit, type LatentUnitResult } from './latent.js';
import type { Experiment, Suite } from './suite.js';

/** Bumped when a unit's stored content or meaning changes, so old cache entries are not reused. */
const UNIT_FORMAT = 1;

export interface BenchRow extends EvalRow {
  experiment: string;
  model: string;
  /** The detector (a row may be one of its columns, e.g. components' kl). */
  detector: string;
  granularity: 'sample' | 'batch';
  pair: string;
  id: string;
}

/** A finished unit as stored in the cache. */
export interface UnitResult {
  format: number;
  key: string;
  experiment: string;
  model: string;
  detector: string;
  granularity: 'sample' | 'batch';
  bn: string;
  id: string;
  pairs: Pair[];
  limit: number;
  rows: BenchRow[];
  /** Per report row: the ID scores and each pair's OoD scores (base64 float32), for histograms and ROC curves. */
  series: { row: string; id: string; ood: Record<string, string> }[];
  settings: Record<string, unknown>;
  fitted: string | null;
  seconds: number;
  /** Images scored (ID once plus every OoD set; a batch detector's batches times their size). */
  images?: number;
  /** The machine's 1-minute load average when the unit finished: its seconds mean little without it. */
  load?: number;
  /**
   * Set when the unit was not scored on its own but taken from the same pass as this detector's unit on the same
   * model, BN mode and data (DetectorSpec.subsetOf: the ELBO from its components); its seconds are then 0 and the
   * other unit's cover both. Same numbers as scoring it alone.
   */
  takenFrom?: string;
}

export interface Skip { what: string; why: string }

interface Unit {
  key: string;
  experiment: Experiment;
  entry: ModelEntry;
  detector: string;
  bn: string;
  id: string;
  pairs: Pair[];
  limit: number;
  /** Run folders of the extra models (ensemble, background, large latent). */
  extras: string[];
  fitKey: string | null;
  images: number;
  /**
   * Units with the same pass: the key's content with the detector replaced by its subsetOf base. A derived unit
   * whose base unit is planned too is computed in the base unit's evaluate() call.
   */
  pass: string;
  /**
   * The pass's key with each model's weights replaced by its architecture (model config): a pass's time does not
   * depend on the weights, so the time recorded under this key estimates the pass of a retrained model before it runs.
   */
  cost: string;
}

export interface BenchmarkOptions {
  suite: Suite;
  /** Caps every per-set limit (quick runs, tests). */
  limit?: number;
  /** Cache folder (default `<out>/cache` chosen by the caller). */
  cacheDir: string;
  zoo?: string;
  /** Also score run folders whose training has not ended (models.ts ResolveOptions); refused by default. */
  unfinished?: boolean;
  device?: string;
  /** Checked between units: when aborted the run stops after the unit in progress and reports what is done. */
  signal?: AbortSignal;
  /**
   * Aborts the unit in progress (the second Ctrl-C): its scoring stops within one batch or optimizer step, nothing
   * of it is cached or returned, its native memory is freed, and the run stops as for `signal`. Giving it also
   * makes the scoring yield to the event loop, so that a Ctrl-C handler runs during a unit at all.
   */
  stopNow?: AbortSignal;
  log?: (s: string) => void;
  /** The same progress as structured events (the CLI writes them to OUT/log.jsonl, and to stderr with --progress json). */
  onEvent?: (e: BenchEvent) => void;
  progressBars?: boolean;
}

/** One line of the benchmark's JSON log: the plan, each unit as it starts and ends, the end of the run. */
export type BenchEvent =
  | { event: 'plan'; suite: string; planned: number; toRun: number; cached: number; skipped: number }
  | {
    event: 'unit'; index: number; planned: number; experiment: string; model: string; detector: string; bn: string; id: string; pairs: string[];
    /** running; done (computed now); cached; pass (computed in an earlier unit's pass); failed; interrupted (not cached). */
    status: 'running' | 'done' | 'cached' | 'pass' | 'failed' | 'interrupted';
    seconds?: number; error?: string;
    /** Units still to run, and the time left for them (etaEstimate), after this event. */
    toRun: number; eta?: EtaEstimate;
  }
  | { event: 'end'; planned: number; computed: number; cached: number; skipped: number; interrupted: boolean };
type UnitStatus = Extract<BenchEvent, { event: 'unit' }>['status'];

export interface BenchmarkResult {
  suite: Suite;
  units: UnitResult[];
  /** Units of the latent experiments (benchmark/latent.ts). */
  latent: LatentUnitResult[];
  skipped: Skip[];
  /** Units planned, computed now, taken from the cache. */
  counts: { planned: number; computed: number; cached: number };
  interrupted: boolean;
  /** Model entries per experiment, for grids (report.ts). */
  models: { experiment: Experiment; entry: ModelEntry; pairs: Pair[] }[];
  /** Every model the plan resolved (main, background, ensemble, latent), once each, with how far its training got. */
  runs: RunInfo[];
}

/** A resolved model as the report lists it: the suite's reference, its content hash and its training status. */
export interface RunInfo {
  ref: string;
  /** The labels its rows carry when it is a suite's main model (none when only a background or ensemble member). */
  labels: string[];
  hash: string;
  training: TrainingStatus;
}

const fmtTime = (s: number) => (s < 60 ? `${s.toFixed(0)} s` : s < 3600 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${(s / 3600).toFixed(1)} h`);

/** The key of `etaText`'s timings: one model (its run folder) and one detector. */
export const timingKey = (model: string, detector: string): string => `${model}\u0000${detector}`;

/**
 * The progress line's time left for the units still to run, from the seconds per image measured so far, keyed by
 * timingKey(model, detector). A unit whose (model, detector) has not run yet borrows the detector's time on the other
 * models (and says so), each scaled by how much dearer this model was than that one on the detectors timed on both
 * (geometric mean of the ratios; models with no detector in common are used, unscaled, only when no model has one):
 * a categorical VAE's IWAE is estimated from a Gaussian VAE's IWAE times the ratio of their ELBO passes. A detector
 * not timed on any model is named, not guessed: detectors differ by orders of magnitude (likelihood regret runs ~100
 * optimizer steps per image).
 */
export function etaText(left: { model: string; detector: string; images: number }[], timed: ReadonlyMap<string, { s: number; n: number }>): string {
  const e = etaEstimate(left, timed);
  if (e.seconds === null && e.untimed.units === 0) return 'ETA after the first unit';
  const borrowed = e.borrowed ? ` (${e.borrowed} unit${e.borrowed > 1 ? 's' : ''} estimated from the detector's time on other models)` : '';
  const names = e.untimed.detectors;
  if (!names.length) return `about ${fmtTime(e.seconds ?? 0)} left${borrowed}`;
  const n = e.untimed.units;
  const untimed = `${n} unit${n > 1 ? 's' : ''} of detectors not timed yet (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''})`;
  // Only units of untimed detectors left: "about 0 s left, plus ..." would read as almost done.
  return n === left.length ? `time left unknown: ${untimed}` : `about ${fmtTime(e.seconds ?? 0)} left${borrowed}, plus ${untimed}`;
}

/**
 * etaText's numbers: seconds left for the units it can estimate (null before any unit is timed), how many of them
 * are borrowed from other models, and the units (and their detectors) it cannot estimate.
 */
export interface EtaEstimate { seconds: number | null; borrowed: number; untimed: { units: number; detectors: string[] } }

export function etaEstimate(left: { model: string; detector: string; images: number }[], timed: ReadonlyMap<string, { s: number; n: number }>): EtaEstimate {
  if (timed.size === 0) return { seconds: null, borrowed: 0, untimed: { units: 0, detectors: [] } };
  const perModel = new Map<string, Map<string, number>>(); // model -> detector -> seconds per image
  for (const [k, v] of timed) {
    const [m, d] = k.split('\u0000') as [string, string];
    if (!perModel.has(m)) perModel.set(m, new Map());
    perModel.get(m)!.set(d, v.s / v.n);
  }
  const rate = (u: { model: string; detector: string }): { v: number; borrowed: boolean } | null => {
    const mine = perModel.get(u.model);
    const own = mine?.get(u.detector);
    if (own !== undefined) return { v: own, borrowed: false };
    const scaled: number[] = [], unscaled: number[] = [];
    for (const [m, rates] of perModel) {
      const r = rates.get(u.detector);
      if (m === u.model || r === undefined) continue;
      let logRatio = 0, n = 0;
      for (const [d, x] of mine ?? []) {
        const y = rates.get(d);
        if (y !== undefined && x > 0 && y > 0) { logRatio += Math.log(x / y); n++; }
      }
      if (n) scaled.push(r * Math.exp(logRatio / n)); else unscaled.push(r);
    }
    // A model compared with this one says more than one that is not: its guesses alone when there are any.
    const guesses = scaled.length ? scaled : unscaled;
    return guesses.length ? { v: guesses.reduce((a, g) => a + g, 0) / guesses.length, borrowed: true } : null;
  };
  const unknown = new Set<string>();
  let total = 0, nUnknown = 0, nBorrowed = 0;
  for (const u of left) {
    const r = rate(u);
    if (r) { total += r.v * u.images; if (r.borrowed) nBorrowed++; } else { unknown.add(u.detector); nUnknown++; }
  }
  return { seconds: total, borrowed: nBorrowed, untimed: { units: nUnknown, detectors: [...unknown] } };
}

/** Every unit of the suite, with its cache key; what cannot run goes to `skipped` with the reason. */
export function planBenchmark(o: Pick<BenchmarkOptions, 'suite' | 'limit' | 'zoo' | 'unfinished'>): { units: Unit[]; latent: LatentUnit[]; skipped: Skip[]; models: BenchmarkResult['models']; runs: RunInfo[] } {
  const s = o.suite;
  const zoo = zooDir(o.zoo);
  const units: Unit[] = [];
  const latent: LatentUnit[] = [];
  const skipped: Skip[] = [];
  const models: BenchmarkResult['models'] = [];
  const extraRuns = new Map<string, ResolvedRun | { skip: string }>();
  const resolveExtra = (ref: string): ResolvedRun | { skip: string } => {
    if (!extraRuns.has(ref)) {
      try { extraRuns.set(ref, resolveRun(ref, zoo, { unfinished: o.unfinished })); } catch (e) { extraRuns.set(ref, { skip: (e as Error).message }); }
    }
    return extraRuns.get(ref)!;
  };
  for (const ex of s.experiments) {
    if (ex.kind === 'latent') { latent.push(...planLatent(ex, s, zoo, o.limit, skipped, { unfinished: o.unfinished })); continue; }
    const detectors = ex.detectors.includes('*') ? detectorNames() : ex.detectors;
    for (const d of detectors) detectorSpec(d); // unknown names fail now, listing the registry
    const { pairs, byId } = availablePairs(ex.name, ex.pairs, skipped);
    for (const ref of ex.models) {
      let entry: ModelEntry;
      try {
        entry = modelEntry(ref, zoo, { unfinished: o.unfinished });
      } catch (e) {
        skipped.push({ what: `${ex.name}: model ${typeof ref === 'string' ? ref : ref.run}`, why: (e as Error).message });
        continue;
      }
      models.push({ experiment: ex, entry, pairs });
      // What the model can do decides which detectors apply (an AE: rec only).
      const probe = loadRun(entry.main.dir, { device: 'cpu' });
      const able = new Set(detectorsFor(probe.model));
      probe.model.dispose();
      const cfg = entry.main.config;
      for (const d of detectors) {
        const spec = detectorSpec(d);
        const extras = extraRefs(d, spec.models?.min ?? 1, entry);
        if (!Array.isArray(extras)) { skipped.push({ what: `${ex.name}: ${entry.name} / ${d}`, why: extras.skip }); continue; }
        if ((spec.models?.min ?? 1) <= 1 && !able.has(d)) {
          skipped.push({ what: `${ex.name}: ${entry.name} / ${d}`, why: `a model of kind '${cfg.model.kind}' lacks what ${d} needs (${spec.needs.join(', ')})` });
          continue;
        }
        const runs = extras.map(resolveExtra);
        const bad = runs.find((h): h is { skip: string } => 'skip' in h);
        if (bad) { skipped.push({ what: `${ex.name}: ${entry.name} / ${d}`, why: bad.skip }); continue; }
        const hashes = (runs as ResolvedRun[]).map((x) => x.hash);
        const limit = Math.min(o.limit ?? Infinity, ex.detectorLimits[d] ?? ex.limit ?? s.limit);
        if (spec.granularity === 'batch' && limit < s.batchSize) {
          skipped.push({ what: `${ex.name}: ${entry.name} / ${d}`, why: `a batch detector scoring batches of ${s.batchSize} images; at most ${limit} images per set give no batch (raise the limit or lower batchSize)` });
          continue;
        }
        const options = ex.options;
        const fitKey = spec.fits
          ? hashOf({ v: UNIT_FORMAT, models: [entry.main.hash, ...hashes], detector: d, options, seed: s.seed, batchSize: s.batchSize,
            fit: { train: cfg.data.train, valFraction: cfg.data.valFraction, seed: cfg.seed, limit: s.fitLimit, size: cfg.data.imageSize, channels: cfg.data.channels } })
          : null;
        for (const [id, group] of byId) {
          const data = [id, ...group.map((p) => p.ood)].map((spec) => ({ spec, source: (dataIdentity(spec) as { source: string }).source }));
          for (const bn of ex.bn) {
            const key = hashOf({
              v: UNIT_FORMAT, models: [entry.main.hash, ...hashes], detector: d, options, bn, data, limit, fitKey,
              size: cfg.model.imageSize, channels: cfg.model.channels, seed: s.seed, batchSize: s.batchSize, bootstrap: s.bootstrap,
            });
            const pass = hashOf({
              v: UNIT_FORMAT, models: [entry.main.hash, ...hashes], detector: subsetBase(d) ?? d, options, bn, data, limit, fitKey,
              size: cfg.model.imageSize, channels: cfg.model.channels, seed: s.seed, batchSize: s.batchSize, bootstrap: s.bootstrap,
            });
            const cost = hashOf({
              v: TIMING_FORMAT, models: [entry.main, ...(runs as ResolvedRun[])].map((x) => x.config.model), detector: subsetBase(d) ?? d, options, bn, data, limit,
              size: cfg.model.imageSize, channels: cfg.model.channels, batchSize: s.batchSize,
            });
            units.push({ key, pass, cost, experiment: ex, entry, detector: d, bn, id, pairs: group, limit, fitKey, images: limit * (group.length + 1), extras: (runs as ResolvedRun[]).map((x) => x.dir) });
          }
        }
      }
    }
  }
  const runs = new Map<string, RunInfo>();
  const note = (r: ResolvedRun, label?: string) => {
    if (!runs.has(r.dir)) runs.set(r.dir, { ref: r.ref, labels: [], hash: r.hash, training: r.training });
    const info = runs.get(r.dir)!;
    if (label !== undefined && !info.labels.includes(label)) info.labels.push(label);
  };
  for (const m of models) note(m.entry.main, m.entry.name);
  for (const u of latent) note(u.entry.main, u.entry.name);
  for (const r of extraRuns.values()) if (!('skip' in r)) note(r);
  return { units, latent, skipped, models, runs: [...runs.values()] };
}

/** Runs a suite: every unit not in the cache is evaluated and stored. */
export async function runBenchmark(o: BenchmarkOptions): Promise<BenchmarkResult> {
  const log = o.log ?? (() => undefined);
  const emit = o.onEvent ?? (() => undefined);
  const s = o.suite;
  const cache = new BenchCache(o.cacheDir);
  const { units, latent, skipped, models, runs } = planBenchmark(o);
  const todo = units.filter((u) => !cache.has(u.key));
  // A unit listed by two experiments (same key) runs once; the second finds it cached.
  const toRun = new Set([...todo.map((u) => u.key), ...latent.filter((u) => !cache.has(u.key)).map((u) => u.key)]).size;
  const planned = units.length + latent.length;
  log(`suite ${s.name}: ${planned} units (${planned - toRun} cached, ${toRun} to run), ${skipped.length} skipped`);
  emit({ event: 'plan', suite: s.name, planned, toRun, cached: planned - toRun, skipped: skipped.length });
  const device = o.device ?? 'cpu';
  const results: UnitResult[] = [];
  // Seconds per image, per (model, detector): one detector's cost differs by model (a categorical decoder's
  // likelihood costs 13-36x a Gaussian one's per image), so a per-detector mean would mislead.
  const secPerImage = new Map<string, { s: number; n: number }>();
  const costKey = (u: Unit) => timingKey(u.entry.main.dir, u.detector);
  const sets = new Map<string, EvalSet>();
  const loadSet = async (spec: string, limit: number, size: number, channels: number): Promise<EvalSet> => {
    const k = `${spec}|${limit}|${size}|${channels}`;
    if (!sets.has(k)) {
      const r = await loadDataset(spec, { imageSize: size, channels: channels as 1 | 3, limit: Number.isFinite(limit) ? limit : undefined, seed: s.seed });
      sets.set(k, { images: r.set.images, shape: r.set.shape, name: spec, preprocessing: r.preprocessing });
    }
    return sets.get(k)!;
  };
  // A unit whose detector is a subset of another's (the ELBO of the components) rides on that unit's pass when it
  // is to run too: one evaluate() call gives both, and the rider costs nothing in the time left.
  const baseUnit = (u: Unit): Unit | undefined => {
    const b = subsetBase(u.detector);
    return b ? todo.find((x) => x.pass === u.pass && x.detector === b) : undefined;
  };
  const riders = new Set(todo.filter((u) => baseUnit(u)).map((u) => u.key));
  // Units already cached, read once, up front: their recorded times seed the ETA, so a rerun that adds one model or
  // detector to a cached suite estimates its units from the start instead of after the first one computed. A unit's
  // pass time is also its riders' (as below for units computed now).
  const addTime = (pass: string, seconds: number, images: number) => {
    for (const k of new Set(units.filter((x) => x.pass === pass).map(costKey))) {
      const acc = secPerImage.get(k) ?? { s: 0, n: 0 };
      secPerImage.set(k, { s: acc.s + seconds, n: acc.n + images });
    }
  };
  const hits = new Map<string, UnitResult>();
  for (const u of units) {
    if (todo.includes(u) || hits.has(u.key)) continue;
    const hit = cache.get<UnitResult>(u.key);
    if (!hit) continue;
    hits.set(u.key, hit);
    if (hit.format !== UNIT_FORMAT || !(hit.seconds > 0) || !(hit.images && hit.images > 0)) continue;
    addTime(u.pass, hit.seconds, hit.images);
    // (A cache from before timings were kept gets them here, so its next retrained model is estimated.)
    if (!cache.timing(u.cost)) cache.putTiming(u.cost, hit.seconds, hit.images);
  }
  // A pass to run whose architecture ran it before with other weights (a model retrained or trained further since
  // the last run): that time is its own estimate, from the first line. The cost of a pass does not depend on the
  // weights; its scores do, so they are computed again.
  const seeded = new Set<string>();
  for (const u of todo) {
    if (riders.has(u.key) || seeded.has(u.pass)) continue;
    seeded.add(u.pass);
    const t = cache.timing(u.cost);
    if (t) addTime(u.pass, t.seconds, t.images);
  }
  const precomputed = new Set<string>();
  let computed = 0, cached = 0, done = 0, interrupted = false;
  const leftUnits = () => todo.slice(computed).filter((u) => !riders.has(u.key)).map((u) => ({ model: u.entry.main.dir, detector: u.detector, images: u.images }));
  const eta = (): string => etaText(leftUnits(), secPerImage);
  for (const u of units) {
    // Scoring is synchronous and its awaits resolve as microtasks, so without a macrotask turn here a Ctrl-C
    // (a libuv signal callback) would not be seen until the whole suite had run.
    await macrotaskTurn();
    if (o.signal?.aborted || o.stopNow?.aborted) { interrupted = true; break; }
    done++;
    const label = `[${done}/${planned}] ${u.experiment.name}: ${u.entry.name} / ${u.detector} / bn=${u.bn} / ${u.id} vs ${u.pairs.map((p) => p.name).join(', ')}`;
    const unitEvent = (status: UnitStatus, extra: { seconds?: number; error?: string } = {}) => emit({
      event: 'unit', index: done, planned, experiment: u.experiment.name, model: u.entry.name, detector: u.detector, bn: u.bn, id: u.id,
      pairs: u.pairs.map((p) => p.name), status, ...extra, toRun: toRun - computed, eta: etaEstimate(leftUnits(), secPerImage),
    });
    const hit = hits.get(u.key) ?? cache.get<UnitResult>(u.key);
    if (hit && precomputed.delete(u.key)) {
      // Computed in this run, in the pass of an earlier unit (its base or a rider of the same base).
      computed++;
      results.push({ ...hit, experiment: u.experiment.name, model: u.entry.name, rows: hit.rows.map((row) => ({ ...row, experiment: u.experiment.name, model: u.entry.name })) });
      log(`${label}: ${hit.takenFrom ? `taken from the ${hit.takenFrom} pass` : 'computed in an earlier unit\'s pass'}; ${toRun - computed} to run, ${eta()}`);
      unitEvent('pass');
      continue;
    }
    if (hit && hit.format === UNIT_FORMAT) {
      cached++;
      // Two experiments can hold the same unit (same content, same key): the stored labels are the first one's.
      const relabel = { experiment: u.experiment.name, model: u.entry.name };
      results.push({ ...hit, ...relabel, rows: hit.rows.map((row) => ({ ...row, ...relabel })) });
      log(`${label}: cached`);
      unitEvent('cached');
      continue;
    }
    // The pass: the base unit first, then every rider of it still to run (distinct keys).
    const base = baseUnit(u) ?? u;
    const pass = [base, ...todo.filter((x) => riders.has(x.key) && x.pass === base.pass && subsetBase(x.detector) === base.detector && !cache.has(x.key))]
      .filter((x, i, a) => a.findIndex((y) => y.key === x.key) === i);
    log(`${label}: running${pass.length > 1 ? ` (one pass: ${pass.map((x) => x.detector).join(', ')})` : ''} (${eta()})`);
    unitEvent('running');
    const t0 = performance.now();
    let rs: UnitResult[];
    try {
      rs = await runUnit(pass, s, cache, device, loadSet, o.progressBars ?? true, log, o.stopNow);
    } catch (e) {
      if (o.stopNow?.aborted) {
        interrupted = true;
        log(`${label}: interrupted after ${((performance.now() - t0) / 1000).toFixed(1)} s; not cached (a rerun computes it)`);
        unitEvent('interrupted', { seconds: (performance.now() - t0) / 1000 });
        break;
      }
      // A user-level problem of one unit (data that fails to load, a detector that cannot fit this model) is
      // reported and the suite goes on; anything else is a bug and stops the run.
      if (!(e instanceof OodgenError)) throw e;
      skipped.push({ what: `${u.experiment.name}: ${u.entry.name} / ${u.detector} / bn=${u.bn} / ${u.id}`, why: `failed: ${e.message}` });
      log(`${label}: failed: ${e.message}`);
      unitEvent('failed', { error: e.message });
      continue;
    }
    const seconds = (performance.now() - t0) / 1000, load = loadavg()[0];
    pass.forEach((x, i) => {
      const r = rs[i]!;
      r.seconds = x === base ? seconds : 0;
      if (x !== base) r.takenFrom = base.detector;
      r.images = x.images;
      r.load = load;
      cache.put(x.key, r);
      if (x !== u) precomputed.add(x.key);
    });
    const r = rs[pass.indexOf(u)]!;
    results.push(r);
    computed++;
    // The pass's time is also what each rider costs alone (one pass of its base): the time of a later unit of the
    // rider's detector without its base (fmnist-bn-modes' ELBO units) is taken from it.
    addTime(base.pass, seconds, base.images);
    cache.putTiming(base.cost, seconds, base.images);
    log(`${label}: ${seconds.toFixed(1)} s${pass.length > 1 ? ' for the pass' : ''}; ${toRun - computed} to run, ${eta()}`);
    unitEvent('done', { seconds });
  }
  // Latent units after the detector units (they are few, and their time is not per-detector).
  const latentResults: LatentUnitResult[] = [];
  for (const u of interrupted ? [] : latent) {
    await macrotaskTurn();
    if (o.signal?.aborted || o.stopNow?.aborted) { interrupted = true; break; }
    done++;
    const label = `[${done}/${planned}] ${u.experiment.name}: ${u.entry.name} / latent SVM / bn=${u.experiment.bn} / ${u.id} vs ${u.pairs.map((p) => p.name).join(', ')}`;
    // A latent unit's time is not per image of a detector: no estimate for it.
    const unitEvent = (status: UnitStatus, extra: { seconds?: number; error?: string } = {}) => emit({
      event: 'unit', index: done, planned, experiment: u.experiment.name, model: u.entry.name, detector: 'latent', bn: u.experiment.bn, id: u.id,
      pairs: u.pairs.map((p) => p.name), status, ...extra, toRun: toRun - computed,
    });
    const hit = cache.get<LatentUnitResult>(u.key);
    if (hit && hit.format === LATENT_FORMAT_CHECK && hit.kind === 'latent') {
      cached++;
      latentResults.push({ ...hit, experiment: u.experiment.name, model: u.entry.name });
      log(`${label}: cached`);
      unitEvent('cached');
      continue;
    }
    log(`${label}: running`);
    unitEvent('running');
    const t0 = performance.now();
    let r: LatentUnitResult;
    try {
      r = await runLatentUnit(u, s, device, loadSet, join(o.cacheDir, 'scratch', u.key), o.stopNow);
    } catch (e) {
      if (o.stopNow?.aborted) {
        interrupted = true;
        log(`${label}: interrupted after ${((performance.now() - t0) / 1000).toFixed(1)} s; not cached (a rerun computes it)`);
        unitEvent('interrupted', { seconds: (performance.now() - t0) / 1000 });
        break;
      }
      if (!(e instanceof OodgenError)) throw e;
      skipped.push({ what: `${u.experiment.name}: ${u.entry.name} / latent / ${u.id}`, why: `failed: ${e.message}` });
      log(`${label}: failed: ${e.message}`);
      unitEvent('failed', { error: e.message });
      continue;
    }
    r.seconds = (performance.now() - t0) / 1000;
    cache.put(u.key, r);
    latentResults.push(r);
    computed++;
    log(`${label}: ${r.seconds.toFixed(1)} s; ${toRun - computed} to run`);
    unitEvent('done', { seconds: r.seconds });
  }
  emit({ event: 'end', planned, computed, cached, skipped: skipped.length, interrupted });
  return { suite: s, units: results, latent: latentResults, skipped, counts: { planned, computed, cached }, interrupted, models, runs };
}

/** Evaluates the units of one pass (same model, BN mode, data and options; see Unit.pass) in one evaluate() call. */
async function runUnit(
  pass: Unit[], s: Suite, cache: BenchCache, device: string,
  loadSet: (spec: string, limit: number, size: number, channels: number) => Promise<EvalSet>, bars: boolean, log: (s: string) => void,
  stopNow?: AbortSignal,
): Promise<UnitResult[]> {
  const u = pass[0]!;
  const main = loadRun(u.entry.main.dir, { device });
  const extra: LatentModel[] = [];
  try {
    for (const dir of u.extras) extra.push(loadRun(dir, { device }).model);
    const cfg = main.model.config;
    const id = await loadSet(u.id, u.limit, cfg.imageSize, cfg.channels);
    const oods: EvalSet[] = [];
    for (const p of u.pairs) oods.push(await loadSet(p.ood, u.limit, cfg.imageSize, cfg.channels));
    // Fitted detectors fit on the model's own ID validation split only; the state is cached by content and
    // loaded by evaluate() when present, so the (large) fitting set is read only when a fit is needed.
    let fit: { data?: EvalSet; runDir?: string } | undefined;
    if (u.fitKey) {
      const runDir = cache.fittedDir(u.fitKey);
      const have = existsSync(detectorStatePaths(runDir, u.detector).json);
      const data = have ? undefined : (await runFitData(main.config, { limit: s.fitLimit })).images;
      fit = { runDir, data: data ? { ...data, name: data.name ?? 'ID validation split' } : undefined };
    }
    const r = await evaluate({
      model: [main.model, ...extra], detectors: pass.map((x) => x.detector), id, ood: oods, bn: [u.bn], detectorOptions: u.experiment.options,
      fit, batchSize: s.batchSize, seed: s.seed, bootstrap: s.bootstrap, progressBars: bars, log, signal: stopNow,
    });
    // evaluate() lists rows detector by detector; each unit keeps its own (the row names of two detectors can
    // coincide, so they are split by position, not by name).
    let at = 0;
    return pass.map((x) => {
      const spec = detectorSpec(x.detector);
      const res = r.raw[x.detector]![r.bn[0]!]!;
      // A rider from another experiment has the same sets in the same order, but its pairs may be named otherwise.
      const pairOf = new Map(x.pairs.map((p) => [p.ood, p.name]));
      const n = reportRows(spec).length * u.pairs.length;
      const rows = r.rows.slice(at, at + n);
      at += n;
      return {
        format: UNIT_FORMAT, key: x.key, experiment: x.experiment.name, model: x.entry.name, detector: x.detector, granularity: spec.granularity,
        bn: x.bn, id: x.id, pairs: x.pairs, limit: Number.isFinite(x.limit) ? x.limit : -1,
        rows: rows.map((row) => ({ ...row, experiment: x.experiment.name, model: x.entry.name, detector: x.detector, granularity: spec.granularity, pair: pairOf.get(row.ood)!, id: x.id })),
        series: reportRows(spec).map((row) => ({
          row: row.row, id: f32ToB64(rowSeries(row, res[0]!).score),
          ood: Object.fromEntries(x.pairs.map((p, j) => [p.name, f32ToB64(rowSeries(row, res[j + 1]!).score)])),
        })),
        settings: r.settings[x.detector] ?? {}, fitted: r.fitted[x.detector] ?? null, seconds: 0,
      };
    });
  } finally {
    extra.forEach((m) => m.dispose());
    main.model.dispose();
  }
}

export function allRows(r: Pick<BenchmarkResult, 'units'>): BenchRow[] {
  return r.units.flatMap((u) => u.rows);
}

export const benchFiles = (out: string) => ({ json: join(out, 'results.json'), md: join(out, 'results.md'), html: join(out, 'report.html') });
