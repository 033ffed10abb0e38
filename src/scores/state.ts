// Fitted detector state in a run folder: `detectors/NAME.json` (the detector's meta, its settings and when it was
// fitted) and, when it has arrays, `detectors/NAME.safetensors`. Written atomically (pure-TS safetensors, no
// engine tensors), so the CLI, the benchmark and the service fit once and reuse the state.
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { OodgenError } from '../errors.js';
import { fromTypedArray, readSafetensors, toTypedArray, writeSafetensors } from '../io/safetensors.js';
import type { Detector, DetectorState } from './types.js';

const FORMAT = 'oodgen-detector/1';

/** The two files of a detector's state in a run folder. */
export function detectorStatePaths(runDir: string, name: string): { dir: string; json: string; arrays: string } {
  const dir = join(runDir, 'detectors');
  return { dir, json: join(dir, `${name}.json`), arrays: join(dir, `${name}.safetensors`) };
}

/** Saves a fitted detector's state in `runDir/detectors/`; returns the files written. */
export function saveDetectorState(runDir: string, det: Detector): string[] {
  if (!det.saveState) throw new OodgenError(`detector '${det.name}' has no state to save (it needs no fitting)`);
  const state = det.saveState();
  const p = detectorStatePaths(runDir, det.name);
  mkdirSync(p.dir, { recursive: true });
  const files: string[] = [];
  const names = Object.keys(state.arrays);
  if (names.length) {
    const tensors = Object.fromEntries(names.map((k) => {
      const a = state.arrays[k]!;
      return [k, fromTypedArray(a.data, a.shape)];
    }));
    writeSafetensors(p.arrays, tensors, { format: FORMAT, detector: det.name });
    files.push(p.arrays);
  } else if (existsSync(p.arrays)) {
    unlinkSync(p.arrays);
  }
  const doc = { format: FORMAT, detector: det.name, settings: det.settings(), arrays: names, meta: state.meta, savedAt: new Date().toISOString() };
  const tmp = `${p.json}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, JSON.stringify(doc, null, 1) + '\n');
  renameSync(tmp, p.json);
  files.push(p.json);
  return files;
}

/**
 * Loads the state saved for this detector in `runDir/detectors/` into it; returns false when none was saved.
 * A file that is corrupt, of another detector, or missing arrays is an error naming it.
 */
export function loadDetectorState(runDir: string, det: Detector): boolean {
  if (!det.loadState) throw new OodgenError(`detector '${det.name}' has no state to load (it needs no fitting)`);
  const p = detectorStatePaths(runDir, det.name);
  if (!existsSync(p.json)) return false;
  let doc: { format?: string; detector?: string; arrays?: string[]; meta?: Record<string, unknown> };
  try {
    doc = JSON.parse(readFileSync(p.json, 'utf8'));
  } catch (e) {
    throw new OodgenError(`${p.json}: corrupt detector state (${(e as Error).message})`);
  }
  if (doc.format !== FORMAT || doc.detector !== det.name) throw new OodgenError(`${p.json}: not a state of detector '${det.name}' (format ${doc.format}, detector ${doc.detector})`);
  const arrays: DetectorState['arrays'] = {};
  if (doc.arrays?.length) {
    if (!existsSync(p.arrays)) throw new OodgenError(`${p.arrays}: missing (arrays of the fitted state in ${p.json})`);
    const f = readSafetensors(p.arrays);
    for (const k of doc.arrays) {
      const t = f.tensors.get(k);
      if (!t) throw new OodgenError(`${p.arrays}: no array '${k}' (listed in ${p.json})`);
      if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new OodgenError(`${p.arrays}: array '${k}' is ${t.dtype}, expected F32 or F64`);
      const a = toTypedArray(t) as Float32Array | Float64Array;
      arrays[k] = { data: a.slice(), shape: t.shape.slice() };
    }
  }
  try {
    det.loadState({ meta: doc.meta ?? {}, arrays });
  } catch (e) {
    throw new OodgenError(`${p.json}: ${(e as Error).message}`);
  }
  return true;
}
