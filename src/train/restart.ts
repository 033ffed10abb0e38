// Restarting a run whose optimizer state is lost (`oodgen train --restart-from DIR`).
//
// --resume continues a run exactly: weights, Adam moments, noise generator, data position. When the run folder is
// gone and only its weights survive (a zoo export holds no optimizer state, by the zoo's rule), the next best thing
// is to continue the same run from those weights: same model, data, seed, split and hyper-parameters, from the
// step and epoch at which the weights were saved, with Adam's moments starting again from zero (Adam's bias
// correction makes the first steps behave as at step 1) and a fresh noise generator. The run is then not
// bit-identical to the lost one, and its config.json and log say so (`restartedFrom`, a `restart` log event).
//
// The weights must sit at an epoch boundary (the early-stopping best always does), so the data order of the next
// epoch is the one the lost run would have used (a function of seed and epoch). The early-stopping state restarts
// from the validation ELBO of the loaded weights, measured again with the run's own validation seed: the best so
// far and the reference of the patience count, with no epoch of patience used, which is the lost run's state at
// that epoch when the weights are its best.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OodgenError } from '../errors.js';
import { RUN_FILES, readRunConfig, type RunConfig } from './run.js';

export interface RestartSource {
  /** The folder given (a run folder or a zoo model folder). */
  dir: string;
  config: RunConfig;
  /** The weights file loaded. */
  weights: string;
  sha256: string;
  /** Its log lines up to the weights' step (they become the start of the new run's log). */
  logLines: string[];
  /** Training wall time up to that step, ms, from the log's last epoch line (0 when the log does not say). */
  elapsedMs: number;
}

/** The source's weights file: a zoo folder's model.safetensors, a run folder's best.safetensors (else its model.safetensors). */
function weightsFile(dir: string): string {
  if (existsSync(join(dir, 'status.json'))) return join(dir, RUN_FILES.model);
  const best = join(dir, RUN_FILES.best);
  return existsSync(best) ? best : join(dir, RUN_FILES.model);
}

/** Reads a restart source: config, weights path and hash; the log is cut once the step is known (cutLog). */
export function readRestartSource(dir: string): RestartSource {
  const config = readRunConfig(dir);
  const weights = weightsFile(dir);
  if (!existsSync(weights)) throw new OodgenError(`${weights}: missing (the weights to restart from)`);
  const sha256 = createHash('sha256').update(readFileSync(weights)).digest('hex');
  return { dir, config, weights, sha256, logLines: [], elapsedMs: 0 };
}

/** The source's log lines with step <= step, and the wall time of its last epoch line among them. */
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
  src.elapsedMs = elapsedS * 1000;
}

/** The epoch at which weights saved at `step` sit, or an error naming the file when they are inside an epoch. */
export function restartEpoch(weights: string, step: number, stepsPerEpoch: number): number {
  if (!Number.isInteger(step) || step < 0) throw new OodgenError(`${weights}: its metadata holds no training step; cannot tell where to restart`);
  if (step % stepsPerEpoch !== 0) {
    throw new OodgenError(`${weights}: saved at step ${step}, inside epoch ${Math.floor(step / stepsPerEpoch)} (${stepsPerEpoch} steps per epoch); --restart-from needs weights from an epoch's end (best.safetensors or a zoo export), where the data order of the next epoch is known`);
  }
  return step / stepsPerEpoch;
}
