// How far a model's training got, read from the files beside its weights: a zoo folder's status.json (written by
// scripts/zoo-export.mjs) or a run folder's state.json (the trainer's). The benchmark reports it beside its tables
// and refuses an unfinished model unless asked; the gate reports it in /v1/info and warns at start-up.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OodgenError } from '../errors.js';
import { RUN_FILES } from './run.js';

/** A zoo folder's record of its export (scripts/zoo-export.mjs). */
export const ZOO_STATUS = 'status.json';

/**
 * `done`: training has ended (early stopping, an epoch or step cap); `converged`: early stopping ended it (null when
 * the folder does not say); `text`: one line for people.
 */
export interface TrainingStatus { done: boolean; converged: boolean | null; text: string }

/** A JSON file beside the weights; an OodgenError naming it when it is not readable JSON. */
export const readStatusJson = (file: string): Record<string, unknown> => {
  try { return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>; } catch (e) { throw new OodgenError(`${file}: not readable JSON (${(e as Error).message})`); }
};
const int = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : '?');
export const stateDetail = (st: Record<string, unknown>) => `done is ${JSON.stringify(st.done)} at step ${int(st.step)}, epoch ${int(st.epoch)}`;
const weightsOf = (bestStep: unknown) => (typeof bestStep === 'number' ? `; best-validation weights of step ${int(bestStep)}` : '');

/** "; restarted at epoch E from its surviving weights (Adam reset)" for a run continued with --restart-from (train/restart.ts). */
function restartsOf(r: unknown): string {
  if (!Array.isArray(r) || r.length === 0) return '';
  const epochs = r.map((e) => int((e as { epoch?: unknown }).epoch));
  return `; restarted at epoch ${epochs.join(', ')} from its surviving weights (optimizer state lost, Adam reset)`;
}

/** The training status of the model in `dir` (a zoo folder or a run folder); an OodgenError for an unreadable file. */
export function trainingStatus(dir: string): TrainingStatus {
  const statusFile = join(dir, ZOO_STATUS);
  if (existsSync(statusFile)) {
    const st = readStatusJson(statusFile);
    const last = st.lastEpoch as { epoch?: unknown } | null | undefined;
    const epoch = typeof last?.epoch === 'number' ? last.epoch : st.epoch;
    const reason = typeof st.stopReason === 'string' ? st.stopReason : 'unknown';
    // status.json files written before `done` was recorded are all of runs that early stopping ended.
    const done = typeof st.done === 'boolean' ? st.done : st.converged === true;
    const converged = typeof st.converged === 'boolean' ? st.converged : null;
    const text = (converged ? `converged: early stopping ended it at epoch ${int(epoch)}${weightsOf(st.bestStep)}`
      : done ? `ended by ${reason} at epoch ${int(epoch)}, not by early stopping${weightsOf(st.bestStep)}`
        : `NOT CONVERGED: exported while still training, at epoch ${int(epoch)} (step ${int(st.step)}${reason.startsWith('still training') ? '' : `, ${reason}`})${weightsOf(st.bestStep)}`) + restartsOf(st.restarts);
    return { done, converged, text };
  }
  const stateFile = join(dir, RUN_FILES.state);
  if (existsSync(stateFile)) {
    const st = readStatusJson(stateFile);
    const done = st.done === true;
    const converged = done ? st.stopReason === 'early-stopping' : false;
    // Which weights a caller loads from a run folder (model.safetensors, the last; best.safetensors) is its own
    // business: the step here is where training stopped.
    const last = ` (step ${int(st.step)})`;
    const text = converged ? `converged: early stopping ended it at epoch ${int(st.epoch)}${last}`
      : done ? `ended by ${String(st.stopReason)} at epoch ${int(st.epoch)}, not by early stopping${last}`
        // Not done: training now, or stopped and resumable (an interrupt, a time budget, a crash). The last stop's
        // reason is history, not necessarily the present (a resumed run keeps it until it stops again).
        : `NOT CONVERGED: training not finished (state.json: ${stateDetail(st)}${typeof st.stopReason === 'string' ? `; last stop: ${st.stopReason}` : ''})`;
    return { done, converged, text };
  }
  return { done: true, converged: null, text: 'training status unknown (no status.json or state.json beside the weights)' };
}

