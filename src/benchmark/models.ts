// Models of a suite: a zoo name (`<zoo>/NAME/`, a run folder with model.safetensors and config.json) or a run
// folder path; each hashed by content (weights and model config) for the cache.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OodgenError } from '../errors.js';
import { repoRoot } from '../data/paths.js';
import { readRunConfig, RUN_FILES, type RunConfig } from '../train/run.js';
import { readStatusJson, stateDetail, trainingStatus, ZOO_STATUS, type TrainingStatus } from '../train/status.js';
import { hashFile, hashOf } from './cache.js';
import type { ModelRef } from './suite.js';

export { trainingStatus, type TrainingStatus };

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
 * Labels of the suite's models whose weights are not those of a run that early stopping ended (exported mid-run,
 * still training, or stopped by a step or epoch cap): their rows carry "(not converged)", so a half-trained model's
 * numbers are not read as the converged model's.
 */
export function unconvergedModels(r: { runs: { labels: string[]; training: TrainingStatus }[] }): Set<string> {
  return new Set(r.runs.filter((x) => x.training.converged === false).flatMap((x) => x.labels));
}

/** The references of the models early stopping did not end (main or extra), for the "Not converged" line. */
export function notConvergedRefs(r: { runs: { ref: string; training: TrainingStatus }[] }): string[] {
  return r.runs.filter((x) => x.training.converged === false).map((x) => x.ref);
}

/** The labels a model's rows carry when they differ from its reference ("conv" listed as "C"), else []. */
export const aliasesOf = (x: { ref: string; labels: string[] }): string[] => (x.labels.length && x.labels.join() !== x.ref ? x.labels : []);

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
    throw new OodgenError(existsSync(join(dir, ZOO_STATUS))
      ? `zoo model ${dir} was exported before its training ended (${join(dir, ZOO_STATUS)}: ${training.text}): `
        + 'pass --unfinished to score these weights anyway'
      : `run ${dir} has not finished training (${state}: ${stateDetail(readStatusJson(state))}): `
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

/** One folder of a zoo as `oodgen zoo` lists it; `problem` instead of the rest when the folder is not a usable model. */
export interface ZooEntry {
  name: string;
  /** e.g. "vae categorical z128 w32 3x32x32". */
  model?: string;
  /** The training data spec of its config. */
  data?: string;
  training?: TrainingStatus;
  /** model.safetensors' size. */
  bytes?: number;
  problem?: string;
}

/**
 * Every model folder of a zoo (a folder with model.safetensors or config.json), sorted by name. A folder whose
 * config or status cannot be read is listed with the problem, so one broken folder does not hide the others.
 */
export function listZoo(zoo: string): ZooEntry[] {
  if (!existsSync(zoo) || !statSync(zoo).isDirectory()) throw new OodgenError(`zoo folder ${zoo} does not exist (--zoo DIR or OODGEN_ZOO)`);
  const out: ZooEntry[] = [];
  for (const name of readdirSync(zoo).sort()) {
    const dir = join(zoo, name);
    if (!statSync(dir).isDirectory()) continue;
    const weights = join(dir, RUN_FILES.model);
    if (!existsSync(weights) && !existsSync(join(dir, RUN_FILES.config))) continue;
    try {
      if (!existsSync(weights)) throw new OodgenError(`${weights} is missing`);
      const cfg = readRunConfig(dir);
      const m = cfg.model;
      out.push({
        name, data: cfg.data.mutate ? `${cfg.data.train} mutate ${cfg.data.mutate}` : cfg.data.train, training: trainingStatus(dir), bytes: statSync(weights).size,
        model: m.flow
          ? `${m.kind} ${m.flow.levels}x${m.flow.steps} w${m.flow.width} ${m.channels}x${m.imageSize}x${m.imageSize}`
          : `${m.kind}${m.kind === 'ae' ? '' : ` ${m.decoder}`} z${m.zDim} w${m.width} ${m.channels}x${m.imageSize}x${m.imageSize}`,
      });
    } catch (e) {
      out.push({ name, problem: (e as Error).message });
    }
  }
  return out;
}
