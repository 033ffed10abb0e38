// Content-addressed cache of the benchmark: a unit's scores and metrics are stored under the SHA-256 of what
// determines them (model weights, detector and options, BatchNorm mode, data spec and source file, limits, seeds),
// and fitted detector states under the hash of the weights, detector, options and fitting data. A rerun finds
// every finished unit and does no repeated work; an interrupted run (Ctrl-C) loses at most the unit in progress,
// because each entry is written atomically (temp file + rename) only when complete.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeFileAtomic } from '../train/run.js';

/** Bumped when a timing record's content or meaning changes (it is also in the timing key, run.ts's Unit.cost). */
export const TIMING_FORMAT = 1;
/** A pass's time: its seconds and the images it scored (ID plus OoD sets). */
export interface PassTiming { format: number; seconds: number; images: number }

/** JSON with object keys sorted, so equal content hashes equally whatever the key order. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export const hashOf = (v: unknown): string => createHash('sha256').update(stableJson(v)).digest('hex');

const fileHashes = new Map<string, string>();

/** SHA-256 of a file's bytes (memoised by path, size and mtime). */
export function hashFile(path: string): string {
  const st = statSync(path);
  const memo = `${path}:${st.size}:${st.mtimeMs}`;
  const hit = fileHashes.get(memo);
  if (hit) return hit;
  const h = createHash('sha256').update(readFileSync(path)).digest('hex');
  fileHashes.set(memo, h);
  return h;
}

/**
 * The identity of a data source by content: SHA-256 of a file's bytes, or of a folder tree's sorted relative paths and
 * file hashes. Not path, size and mtime: a data folder copied or re-provisioned (as ../shared/data is at the start
 * of each session here, and as users copy datasets between machines) has new mtimes and the same images, and a
 * key with the mtime threw away every cached unit (93 minutes of likelihood regret) although nothing had changed.
 * Cost: ~0.3 s for CIFAR-10's test folder (40 MB), memoised per process.
 */
export function hashSource(path: string): string {
  const st = statSync(path);
  if (!st.isDirectory()) return hashFile(path);
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  walk(path);
  return hashFiles(path, files.sort());
}

/**
 * SHA-256 of a list of files in the order given, each by its path relative to `root` (a class folder is a label)
 * and its bytes: the identity of one split of a folder dataset, as its loader lists it (a CelebA split is the
 * partition file's choice of images, so moving an image between splits changes the split's identity).
 */
export function hashFiles(root: string, files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${relative(root, f)}\u0000${hashFile(f)}\n`);
  return h.digest('hex');
}

/** Float32 values as base64 of their bytes: exact (NaN included) and a third the size of JSON numbers. */
export function f32ToB64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function b64ToF32(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export class BenchCache {
  constructor(readonly dir: string) {}

  private unitPath(key: string): string {
    return join(this.dir, 'units', key.slice(0, 2), `${key}.json`);
  }

  has(key: string): boolean {
    return existsSync(this.unitPath(key));
  }

  /** A stored unit, or null when absent or unreadable (a damaged entry is recomputed, not trusted). */
  get<T>(key: string): T | null {
    const p = this.unitPath(key);
    if (!existsSync(p)) return null;
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as T;
    } catch {
      return null;
    }
  }

  put(key: string, value: unknown): void {
    const p = this.unitPath(key);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileAtomic(p, JSON.stringify(value) + '\n');
  }

  /**
   * A pass's recorded time, under the hash of its architecture (model configs, not weights; run.ts's Unit.cost), or
   * null when absent, unreadable or of another format. Kept in `timings/`, apart from the units: a timing is an
   * estimate for the time left, never a result, and is rewritten whenever the pass runs again.
   */
  timing(key: string): PassTiming | null {
    // A cache written before timings/ existed kept them among the units (same name; a unit record has a `key`, a
    // timing none): read there too, so an upgrade keeps the estimate of a model retrained since.
    for (const p of [this.timingPath(key), this.unitPath(key)]) {
      if (!existsSync(p)) continue;
      try {
        const t = JSON.parse(readFileSync(p, 'utf8')) as PassTiming & { key?: unknown };
        if (t.key === undefined && t.format === TIMING_FORMAT && t.seconds > 0 && t.images > 0) return { format: t.format, seconds: t.seconds, images: t.images };
      } catch {
        // unreadable: no timing
      }
    }
    return null;
  }

  putTiming(key: string, seconds: number, images: number): void {
    const p = this.timingPath(key);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileAtomic(p, JSON.stringify({ format: TIMING_FORMAT, seconds, images } satisfies PassTiming) + '\n');
  }

  private timingPath(key: string): string {
    return join(this.dir, 'timings', key.slice(0, 2), `${key}.json`);
  }

  /** The folder a fitted detector's state lives in (as a run folder: `<dir>/detectors/NAME.*`). */
  fittedDir(key: string): string {
    const d = join(this.dir, 'fitted', key);
    mkdirSync(d, { recursive: true });
    return d;
  }
}
