// Sharded scoring: the batches of a scoring pass (src/scores/driver.ts) split across the ranks of a c10d process
// group, and the scores gathered back in the original order on every rank.
//
// The batches are exactly the single-process ones (same composition, same size), so BatchNorm batch statistics are
// unchanged; rank r scores a contiguous block of them. Stochastic detectors draw their noise from a seeded stream
// (scores/latent.ts Noise) in batch order; so that rank r's first batch gets the noise it gets in one process, rank r
// first replays the draws of the batches before its block (only the random draws, not the model: every batch has the
// same size, so it draws the same shapes; rank 0 records them on its first batch and broadcasts them). Hence
// sharded scores equal single-process scores exactly. After its block, each rank also replays the draws of the
// batches after it, so a detector used for several sets in turn continues with the single-process stream.
//
// The group is ambient (withShardedScoring), so the driver needs no new parameter threaded through every caller.
import { OodgenError } from '../errors.js';
import { ProcessGroup } from '../engine/distributed.js';
import { Tensor } from '../engine/tensor.js';
import { fromTypedArray } from '../engine/ops/creation.js';
import { Noise } from './latent.js';
import type { Detector } from './types.js';

let active: ProcessGroup | null = null;

/** Runs `fn` with scoring passes sharded over `pg` (null: unsharded). */
export async function withShardedScoring<T>(pg: ProcessGroup | null, fn: () => Promise<T>): Promise<T> {
  const prev = active;
  active = pg && pg.worldSize > 1 ? pg : null;
  try {
    return await fn();
  } finally {
    active = prev;
  }
}

/** The process group scoring passes are sharded over now, or null. */
export const shardingGroup = (): ProcessGroup | null => active;

export interface BatchSpec { start: number; keepFrom: number }

/** Balanced contiguous blocks: rank r scores batches [lo, hi); earlier ranks take the remainder. */
export function shardRange(m: number, rank: number, world: number): [number, number] {
  const q = Math.floor(m / world), rem = m % world;
  const lo = rank * q + Math.min(rank, rem);
  return [lo, lo + q + (rank < rem ? 1 : 0)];
}

/** Every Noise a detector holds (fields, and fields of nested detectors), in a stable order. */
function noiseSources(det: unknown, depth = 0, seen = new Set<unknown>()): Noise[] {
  if (det === null || typeof det !== 'object' || seen.has(det) || depth > 3) return [];
  seen.add(det);
  if (det instanceof Noise) return [det];
  if (det instanceof Tensor) return [];
  const out: Noise[] = [];
  for (const k of Object.keys(det).sort()) out.push(...noiseSources((det as Record<string, unknown>)[k], depth + 1, seen));
  return out;
}

const RECORD_BYTES = 1 << 16;

/** Rank 0's record of one batch: the noise shapes drawn per source, and the detector's column names. */
interface BatchRecord { draws: [number, number[]][]; columns: string[] }

function broadcastRecord(pg: ProcessGroup, rec: BatchRecord | null): BatchRecord {
  const buf = new Uint8Array(RECORD_BYTES);
  if (rec) {
    const bytes = new TextEncoder().encode(JSON.stringify(rec));
    if (bytes.length + 4 > RECORD_BYTES) throw new OodgenError(`sharded scoring: the detector draws noise in too many pieces per batch (${rec.draws.length}) to replay`);
    new DataView(buf.buffer).setUint32(0, bytes.length, true);
    buf.set(bytes, 4);
  }
  const t = fromTypedArray(buf, [RECORD_BYTES]);
  try {
    pg.broadcast(t, 0);
    const got = t.data() as Uint8Array;
    const len = new DataView(got.buffer, got.byteOffset).getUint32(0, true);
    return JSON.parse(new TextDecoder().decode(got.subarray(4, 4 + len))) as BatchRecord;
  } finally {
    t.dispose();
  }
}

/**
 * Scores this rank's block of `batches` with `evalBatch` (which merges into score / columns), then all-gathers so
 * every rank holds all n scores in their original positions.
 */
export function runShardedBatches(
  pg: ProcessGroup, detector: Detector, batches: BatchSpec[], size: number, n: number,
  evalBatch: (b: BatchSpec) => number, score: Float32Array, columns: Record<string, Float32Array>,
  onProgress?: (done: number, total: number) => void,
): void {
  const [lo, hi] = shardRange(batches.length, pg.rank, pg.worldSize);
  const sources = noiseSources(detector);
  const draws: [number, number[]][] = [];
  const originals = sources.map((s) => s.randn);
  let done = 0;
  let record!: BatchRecord;
  if (pg.rank === 0) {
    // Record the first batch's draws (every batch draws the same shapes: fixed-size batches).
    sources.forEach((s, i) => {
      s.randn = (shape: number[], device: string) => {
        draws.push([i, shape.slice()]);
        return originals[i]!.call(s, shape, device);
      };
    });
    try {
      done += evalBatch(batches[lo]!);
      const first = JSON.stringify(draws);
      record = broadcastRecord(pg, { draws: draws.slice(), columns: Object.keys(columns) });
      onProgress?.(done, n);
      for (let b = lo + 1; b < hi; b++) {
        draws.length = 0;
        done += evalBatch(batches[b]!);
        // The replay on the other ranks assumes every batch draws the same shapes; a detector that does not would
        // silently get other noise there, so stop instead.
        if (JSON.stringify(draws) !== first) throw new OodgenError(`sharded scoring: ${detector.name} drew different noise shapes in batch ${b} than in batch ${lo}; score it without --nproc`);
        onProgress?.(done, n);
      }
    } finally {
      sources.forEach((s, i) => { s.randn = originals[i]!; });
    }
  } else {
    record = broadcastRecord(pg, null);
    // Fast-forward each noise stream past the batches of the ranks before this one.
    for (let b = 0; b < lo; b++) {
      for (const [i, shape] of record.draws) originals[i]!.call(sources[i]!, shape, 'cpu').dispose();
    }
    for (let b = lo; b < hi; b++) {
      done += evalBatch(batches[b]!);
      onProgress?.(done, n);
    }
  }

  // Leave every noise stream where one process leaves it (after all m batches): a detector scoring several sets in
  // turn (oodgen eval) continues the stream into the next set.
  for (let b = hi; b < batches.length; b++) {
    for (const [i, shape] of record.draws) originals[i]!.call(sources[i]!, shape, 'cpu').dispose();
  }

  // Gather: each rank sends (1 + C, n) rows (score, then the columns in rank 0's order); position p is taken from
  // the rank that owns the batch which kept it.
  const names = record.columns;
  for (const k of names) columns[k] ??= new Float32Array(n).fill(NaN);
  const rows = new Float32Array((1 + names.length) * n);
  rows.set(score, 0);
  names.forEach((k, j) => rows.set(columns[k]!, (j + 1) * n));
  const mine = fromTypedArray(rows, [1 + names.length, n]);
  const all = pg.allgather(mine);
  mine.dispose();
  try {
    const owner = new Int32Array(n).fill(-1);
    for (let r = 0; r < pg.worldSize; r++) {
      const [a, z] = shardRange(batches.length, r, pg.worldSize);
      for (let b = a; b < z; b++) {
        const { start, keepFrom } = batches[b]!;
        for (let i = keepFrom; i < size && start + i < n; i++) owner[start + i] = r;
      }
    }
    const got = all.map((t) => t.toFloat32Array());
    for (let p = 0; p < n; p++) {
      const src = got[owner[p]!]!;
      score[p] = src[p]!;
      names.forEach((k, j) => { columns[k]![p] = src[(j + 1) * n + p]!; });
    }
  } finally {
    for (const t of all) t.dispose();
  }
}
