// Restarting a run whose optimizer state is lost (`oodgen train --restart-from DIR`).
//
// --resume continues a run exactly: weights, Adam moments, noise generator, data position. When the run folder is
// gone and only weights survive (a zoo export holds no optimizer state, by the zoo's rule), the next best thing is
// to continue the same run from them: same model, data, seed, split and hyper-parameters, from the step at which
// the weights were saved, with Adam's moments starting again from zero (Adam's bias correction makes the first
// steps behave as at step 1) and a fresh noise generator. The run is then not bit-identical to the lost one, and its
// config.json and log say so (`restartedFrom`, a `restart` log event).
//
// Two kinds of source:
// - With the run's training state (a run folder's state.json, or a zoo export of a run still training: last.safetensors
//   and status.json's `resume`, written by scripts/zoo-export.mjs): the latest checkpoint's weights, at its step and
//   position in the epoch (the epoch's data order is a function of seed and epoch), and the early-stopping state as
//   it was: the best validation ELBO, its weights (best.safetensors), the patience count. So a run restarted at the
//   start of every session still stops when patience runs out, as an uninterrupted one would.
// - Weights only (a zoo export without `resume`, a run folder without state.json): the best weights, which sit at
//   an epoch's end. The early-stopping state starts from their validation ELBO, measured again with the run's own
//   validation seed, with no epoch of patience used (the lost run's state at that epoch, when they were its best).
//
// Data-parallel runs (train/ddp.ts): a step is a global batch of ranks x batch size, so the source's step and epoch
// count mean the same here only with the same number of ranks. The source says how many when it can (state.json's
// rng.worldSize; a zoo export's status.json resume.ranks); its log's epoch lines (step = epoch x steps per epoch)
// check it either way, so a weights-only source or an export from before `ranks` was recorded is checked too. A
// restart with N ranks starts each rank's noise generator afresh, as a single-process restart does.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { OodgenError } from '../errors.js';
import { RUN_FILES, RunStateSchema, readRunConfig, readRunState, type RunConfig } from './run.js';
import { ZOO_STATUS, readStatusJson } from './status.js';

/** A zoo export's copy of a still-training run's latest checkpoint weights (scripts/zoo-export.mjs). */
export const ZOO_LAST = 'last.safetensors';

/** The training state a restart continues from: state.json's position and early-stopping fields (status.json's `resume`). */
export const ResumePointSchema = RunStateSchema.pick({
  step: true, epoch: true, batchInEpoch: true, bestVal: true, bestStep: true, patienceRef: true, epochsSinceBest: true, elapsedMs: true,
}).extend({
  /** How many data-parallel ranks trained it (state.json rng.worldSize); absent in exports from before it was kept. */
  ranks: z.number().int().positive().optional(),
}).strip();
export type ResumePoint = ReturnType<typeof ResumePointSchema.parse>;

export interface RestartSource {
  /** The folder given (a run folder or a zoo model folder). */
  dir: string;
  config: RunConfig;
  /** The weights file loaded. */
  weights: string;
  sha256: string;
  /** The source's best-validation weights, copied to the new run's best.safetensors (null: none, or `weights` themselves). */
  best: string | null;
  /** The training state at `weights` (null: weights only, at an epoch's end). */
  point: ResumePoint | null;
  /** How many data-parallel ranks made its steps, when the source says (null: it does not). */
  ranks: number | null;
  /** Its log lines up to the weights' step (they become the start of the new run's log). */
  logLines: string[];
  /** Training wall time up to that step, ms (from `point`, else the log's last epoch line; 0 when neither says). */
  elapsedMs: number;
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Reads a restart source: config, which weights, the training state when the folder has it. */
export function readRestartSource(dir: string): RestartSource {
  const config = readRunConfig(dir);
  let weights: string, best: string | null = null, point: ResumePoint | null = null, ranks: number | null = null;
  const statusFile = join(dir, ZOO_STATUS);
  if (existsSync(statusFile)) {
    // A zoo export: model.safetensors holds the best weights; a run exported while training also its latest ones.
    const status = readStatusJson(statusFile);
    const last = join(dir, ZOO_LAST);
    if (status.resume !== undefined && existsSync(last)) {
      const r = ResumePointSchema.safeParse(status.resume);
      if (!r.success) throw new OodgenError(`${statusFile}: invalid resume: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      weights = last;
      best = join(dir, RUN_FILES.model);
      point = r.data;
      ranks = r.data.ranks ?? null;
    } else {
      weights = join(dir, RUN_FILES.model);
    }
  } else if (existsSync(join(dir, RUN_FILES.state))) {
    const st = readRunState(dir);
    if (st.done && st.stopReason === 'early-stopping') {
      throw new OodgenError(`${dir}: early stopping ended this run (state.json); there is nothing to continue`);
    }
    weights = join(dir, RUN_FILES.model);
    best = existsSync(join(dir, RUN_FILES.best)) ? join(dir, RUN_FILES.best) : null;
    point = st;
    // (a single process writes no worldSize: ddp.ts's rngState alone does)
    ranks = st.rng.worldSize === undefined ? 1 : Number(st.rng.worldSize);
    if (!Number.isInteger(ranks) || ranks < 1) throw new OodgenError(`${join(dir, RUN_FILES.state)}: rng.worldSize is '${st.rng.worldSize}', not a rank count`);
  } else {
    weights = existsSync(join(dir, RUN_FILES.best)) ? join(dir, RUN_FILES.best) : join(dir, RUN_FILES.model);
  }
  if (!existsSync(weights)) throw new OodgenError(`${weights}: missing (the weights to restart from)`);
  if (best !== null && !existsSync(best)) throw new OodgenError(`${best}: missing (the best weights of the run to restart)`);
  return { dir, config, weights, sha256: sha(weights), best, point: point ? ResumePointSchema.parse(point) : null, ranks, logLines: [], elapsedMs: point?.elapsedMs ?? 0 };
}

/** Keeps the source's log lines with step <= step; without a training state, the wall time of the last epoch line among them. */
export function cutLog(src: RestartSource, step: number): void {
  const path = join(src.dir, RUN_FILES.log);
  if (!existsSync(path)) return;
  const lines: string[] = [];
  let elapsedS = 0;
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (!l.trim()) continue;
    let e: { step?: unknown; event?: unknown; elapsedS?: unknown };
    try { e = JSON.parse(l) as typeof e; } catch { throw new OodgenError(`${path}: a line is not JSON: ${l.slice(0, 80)}`); }
    if (typeof e.step !== 'number' || e.step > step) continue;
    lines.push(l);
    if (e.event === 'epoch' && typeof e.elapsedS === 'number') elapsedS = e.elapsedS;
  }
  src.logLines = lines;
  if (!src.point) src.elapsedMs = elapsedS * 1000;
}

/**
 * Checks that this run's steps are the source's: the same number of data-parallel ranks (`worldSize`), when the source
 * records it, and, in any case, the source's epoch lines up to the restart step (cutLog first) at this run's steps
 * per epoch. Else the step and epoch counts would mean other images, and the epoch position would be wrong.
 */
export function checkRanks(src: RestartSource, worldSize: number, stepsPerEpoch: number, batchSize: number): void {
  const how = (n: number) => (n === 1 ? 'in one process (no --nproc)' : `with --nproc ${n}`);
  if (src.ranks !== null && src.ranks !== worldSize) {
    throw new OodgenError(`${src.dir}: trained with ${src.ranks} rank(s), each step a global batch of ${src.ranks} x ${batchSize} images; restart it ${how(src.ranks)} (got ${worldSize})`);
  }
  let epochLines = 0;
  for (const l of src.logLines) {
    const e = JSON.parse(l) as { step?: unknown; epoch?: unknown; event?: unknown };
    if (e.event !== 'epoch' || typeof e.step !== 'number' || typeof e.epoch !== 'number') continue;
    epochLines++;
    if (e.step !== e.epoch * stepsPerEpoch) {
      throw new OodgenError(`${join(src.dir, RUN_FILES.log)}: epoch ${e.epoch} ended at step ${e.step} there, but this run has ${stepsPerEpoch} steps per epoch (${worldSize} rank(s) x batch ${batchSize}); restart it with the number of ranks it was trained with`);
    }
  }
  if (src.ranks === null && epochLines === 0 && worldSize > 1) {
    throw new OodgenError(`${src.dir}: neither its training state nor an epoch line of its log says how many ranks made its steps; restart it in one process, or with the rank count it was trained with from an export that records it`);
  }
}

/** The epoch at which weights saved at `step` (a step count, checked by the caller) sit, or an error naming the file when they are inside an epoch. */
export function restartEpoch(weights: string, step: number, stepsPerEpoch: number): number {
  if (step % stepsPerEpoch !== 0) {
    throw new OodgenError(`${weights}: saved at step ${step}, inside epoch ${Math.floor(step / stepsPerEpoch)} (${stepsPerEpoch} steps per epoch), and no training state says where in it; --restart-from needs weights from an epoch's end (best.safetensors) or a run's state (state.json, or a zoo export's last.safetensors and status.json resume)`);
  }
  return step / stepsPerEpoch;
}

/** Checks that a training state belongs to the weights (same step) and to this run's epochs (same steps per epoch). */
export function checkPoint(src: RestartSource, step: number, stepsPerEpoch: number): ResumePoint {
  const p = src.point!;
  if (p.step !== step) throw new OodgenError(`${src.weights}: saved at step ${step}, but the training state of ${src.dir} is at step ${p.step}; export or copy them from the same checkpoint`);
  if (p.epoch * stepsPerEpoch + p.batchInEpoch !== step || p.batchInEpoch >= stepsPerEpoch) {
    throw new OodgenError(`${src.dir}: its training state (epoch ${p.epoch}, batch ${p.batchInEpoch}, step ${step}) does not fit ${stepsPerEpoch} steps per epoch of this data`);
  }
  return p;
}

