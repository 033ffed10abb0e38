// Models of a suite: a zoo name (`<zoo>/NAME/`, a run folder with model.safetensors and config.json) or a run
// folder path; each hashed by content (weights and model config) for the cache.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OodgenError } from '../errors.js';
import { repoRoot } from '../data/paths.js';
import { readRunConfig, RUN_FILES, type RunConfig } from '../train/run.js';
import { hashFile, hashOf } from './cache.js';
import type { ModelRef } from './suite.js';

/** The zoo folder: --zoo, else OODGEN_ZOO, else `<repo>/zoo`. */
export function zooDir(explicit?: string): string {
  if (explicit) return resolve(explicit);
  if (process.env.OODGEN_ZOO) return resolve(process.env.OODGEN_ZOO);
  return join(repoRoot() ?? process.cwd(), 'zoo');
}

const looksLikePath = (s: string) => s.includes('/') || s.includes('\\') || s.startsWith('.');

export interface ResolvedRun {
  /** As written in the suite. */
  ref: string;
  dir: string;
  config: RunConfig;
  /** SHA-256 over the weights' bytes and the model config. */
  hash: string;
  /** How far its training got (reported beside the results: a half-trained model's table is not a converged one's). */
  training: TrainingStatus;
}

export interface ResolveOptions {
  /**
   * Also take a run folder whose training has not ended (its state.json says done: false): by default such a run is
   * refused, because its weights change under the benchmark while it trains, and a table of a half-trained model is
   * easily mistaken for the converged one's (a cached unit is keyed by the weights, so nothing stale is reused).
   */
  unfinished?: boolean;
}

/**
 * How far a model's training got, from the files beside its weights: a zoo folder's status.json (written by
 * scripts/zoo-export.mjs) or a run folder's state.json (the trainer's). `done`: training has ended (early stopping,
 * an epoch or step cap); `converged`: early stopping ended it (null when the folder does not say).
 */
export interface TrainingStatus { done: boolean; converged: boolean | null; text: string }

const readJson = (file: string): Record<string, unknown> => {
  try { return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>; } catch (e) { throw new OodgenError(`${file}: not readable JSON (${(e as Error).message})`); }
};
const int = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : '?');
const stateDetail = (st: Record<string, unknown>) => `done is ${JSON.stringify(st.done)} at step ${int(st.step)}, epoch ${int(st.epoch)}`;
const weightsOf = (bestStep: unknown) => (typeof bestStep === 'number' ? `; best-validation weights of step ${int(bestStep)}` : '');

/** The training status of the model in `dir` (a zoo folder or a run folder); an OodgenError for an unreadable file. */
export function trainingStatus(dir: string): TrainingStatus {
  const statusFile = join(dir, 'status.json');
  if (existsSync(statusFile)) {
    const st = readJson(statusFile);
    const last = st.lastEpoch as { epoch?: unknown } | null | undefined;
    const epoch = typeof last?.epoch === 'number' ? last.epoch : st.epoch;
    const reason = typeof st.stopReason === 'string' ? st.stopReason : 'unknown';
    // status.json files written before `done` was recorded are all of runs that early stopping ended.
    const done = typeof st.done === 'boolean' ? st.done : st.converged === true;
    const converged = typeof st.converged === 'boolean' ? st.converged : null;
    const text = converged ? `converged: early stopping ended it at epoch ${int(epoch)}${weightsOf(st.bestStep)}`
      : done ? `ended by ${reason} at epoch ${int(epoch)}, not by early stopping${weightsOf(st.bestStep)}`
        : `NOT CONVERGED: exported while still training, at epoch ${int(epoch)} (step ${int(st.step)}${reason.startsWith('still training') ? '' : `, ${reason}`})${weightsOf(st.bestStep)}`;
    return { done, converged, text };
  }
  const stateFile = join(dir, RUN_FILES.state);
  if (existsSync(stateFile)) {
    const st = readJson(stateFile);
    const done = st.done === true;
    const converged = done ? st.stopReason === 'early-stopping' : false;
    // A run folder is scored with model.safetensors, its last weights, not best.safetensors.
    const last = `; last weights (step ${int(st.step)})`;
    const text = converged ? `converged: early stopping ended it at epoch ${int(st.epoch)}${last}`
      : done ? `ended by ${String(st.stopReason)} at epoch ${int(st.epoch)}, not by early stopping${last}`
        : `NOT CONVERGED: still training (state.json: ${stateDetail(st)})`;
    return { done, converged, text };
  }
  return { done: true, converged: null, text: 'training status unknown (no status.json or state.json beside the weights)' };
}

/**
 * Labels of the suite's models whose weights are not those of a run that early stopping ended (exported mid-run,
 * still training, or stopped by a step or epoch cap): their rows carry "(not converged)", so a half-trained model's
 * numbers are not read as the converged model's.
 */
export function unconvergedModels(r: { runs: { labels: string[]; training: TrainingStatus }[] }): Set<string> {
  return new Set(r.runs.filter((x) => x.training.converged === false).flatMap((x) => x.labels));
}

/** A model's label in a table: "(not converged)" after it when it is. */
export const modelLabel = (name: string, unconverged: Set<string>): string => (unconverged.has(name) ? `${name} (not converged)` : name);

/** A zoo name or run folder -> its folder, config and content hash; an OodgenError saying what is missing. */
export function resolveRun(ref: string, zoo: string, o: ResolveOptions = {}): ResolvedRun {
  const dir = looksLikePath(ref) || (existsSync(ref) && existsSync(join(ref, RUN_FILES.config))) ? resolve(ref) : join(zoo, ref);
  const weights = join(dir, RUN_FILES.model);
  if (!existsSync(dir) || !existsSync(weights)) {
    throw new OodgenError(looksLikePath(ref)
      ? `run folder ${dir} has no ${RUN_FILES.model}`
      : `zoo model '${ref}' is not in ${zoo} (no ${RUN_FILES.model}); train it (issue 13's zoo) or name a run folder`);
  }
  const training = trainingStatus(dir);
  if (!o.unfinished && !training.done) {
    const state = join(dir, RUN_FILES.state);
    throw new OodgenError(existsSync(join(dir, 'status.json'))
      ? `zoo model ${dir} was exported before its training ended (${join(dir, 'status.json')}: ${training.text}): `
        + 'pass --unfinished to score these weights anyway'
      : `run ${dir} has not finished training (${state}: ${stateDetail(readJson(state))}): `
        + 'benchmark it when it ends, or pass --unfinished to score its weights as they are now');
  }
  const config = readRunConfig(dir);
  return { ref, dir, config, training, hash: hashOf({ weights: hashFile(weights), model: config.model }) };
}

export interface ModelEntry {
  /** Label in tables. */
  name: string;
  main: ResolvedRun;
  /** Extra runs by role, resolved lazily per detector. */
  ensemble?: string[];
  background?: string;
  largeLatent?: string;
}

export function modelEntry(ref: ModelRef, zoo: string, o: ResolveOptions = {}): ModelEntry {
  if (typeof ref === 'string') return { name: ref, main: resolveRun(ref, zoo, o) };
  return { name: ref.name ?? ref.run, main: resolveRun(ref.run, zoo, o), ensemble: ref.ensemble, background: ref.background, largeLatent: ref.largeLatent };
}

/**
 * The extra runs a detector takes beside the main model (waic: the ensemble; likelihood-ratio: the background
 * model; lpath: an optional large-latent model), or a sentence saying why it cannot run with this entry.
 */
export function extraRefs(detector: string, minModels: number, e: ModelEntry): string[] | { skip: string } {
  if (detector === 'waic') return e.ensemble ?? { skip: 'waic needs an ensemble: give the model as {"run": ..., "ensemble": [...]}' };
  if (detector === 'likelihood-ratio') return e.background ? [e.background] : { skip: 'likelihood-ratio needs a background model: give {"run": ..., "background": RUN} (trained with `oodgen train --mutate 0.2`)' };
  if (detector === 'lpath') return e.largeLatent ? [e.largeLatent] : [];
  if (minModels > 1) return { skip: `${detector} takes ${minModels}+ models and the benchmark does not know their roles` };
  return [];
}
