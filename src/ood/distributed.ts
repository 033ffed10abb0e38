// Sharded scoring for the front ends: a process started as one of N ranks (`oodgen launch`, or `--nproc N` on
// score / eval, torchrun-style environment) joins the c10d process group here, and every scoring pass run inside
// (scoreDataset / scoreMixed, hence evaluate()) splits its batches across the ranks and gathers the scores back in
// the original order (src/scores/sharded.ts). Every rank then holds the full result; rank 0 alone writes files.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distEnvFromProcess, ProcessGroup } from '../engine/distributed.js';
import { withShardedScoring } from '../scores/sharded.js';

export interface ScoringRank {
  /** The process group (null: one process). */
  pg: ProcessGroup | null;
  /** Whether this rank writes the outputs (rank 0, or the single process). */
  lead: boolean;
  /** A scratch folder for a non-lead rank's outputs (removed afterwards). */
  scratch(): string;
}

/**
 * Runs `fn` as this process's rank of a sharded scoring run: joins the group named by the environment (if any),
 * shards every scoring pass in `fn` over it, and destroys the group and the scratch folders afterwards.
 */
export async function withScoringRanks<T>(device: string | undefined, fn: (r: ScoringRank) => Promise<T>): Promise<T> {
  const env = distEnvFromProcess();
  if (!env || env.worldSize === 1) {
    return fn({ pg: null, lead: true, scratch: () => { throw new Error('withScoringRanks: a single process writes its own outputs'); } });
  }
  const pg = ProcessGroup.init(env, { device });
  const dirs: string[] = [];
  const scratch = (): string => {
    const d = mkdtempSync(join(tmpdir(), `oodgen-rank${pg.rank}-`));
    dirs.push(d);
    return d;
  };
  try {
    return await withShardedScoring(pg, () => fn({ pg, lead: pg.rank === 0, scratch }));
  } finally {
    pg.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
