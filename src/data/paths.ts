/** Where datasets are looked for: the cache `oodgen data fetch` fills, the shared data folder, system packages. */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Origin = 'root' | 'cache' | 'shared' | 'system';

export interface Candidate { dir: string; origin: Origin }

/** OODGEN_DATA, default ~/.cache/oodgen. */
export function cacheDir(): string {
  return process.env.OODGEN_DATA ? resolve(process.env.OODGEN_DATA) : join(homedir(), '.cache', 'oodgen');
}

let repoRootMemo: string | null | undefined;

/** The oodgen checkout (found by its package.json, so this works from src/ under tsx and from dist/). */
export function repoRoot(): string | null {
  if (repoRootMemo !== undefined) return repoRootMemo;
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(d, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'oodgen') return (repoRootMemo = d);
      } catch { /* keep walking */ }
    }
    const up = dirname(d);
    if (up === d) return (repoRootMemo = null);
    d = up;
  }
}

/** OODGEN_SHARED_DATA, default `<repo>/../shared/data` (the folder beside the clone on CI and dev machines). */
export function sharedDataDir(): string | null {
  if (process.env.OODGEN_SHARED_DATA) return resolve(process.env.OODGEN_SHARED_DATA);
  const r = repoRoot();
  return r ? resolve(r, '..', 'shared', 'data') : null;
}

/** Debian's dataset-fashion-mnist package. */
export const SYSTEM_DIRS: Record<string, string[]> = {
  'fashion-mnist': ['/usr/share/datasets/fashion-mnist'],
  mnist: ['/usr/share/datasets/mnist'],
};

/** Folders that may hold dataset `name`, in search order. An explicit root is the only place searched. */
export function candidateDirs(name: string, root?: string): Candidate[] {
  if (root) return [{ dir: resolve(root, name), origin: 'root' }, { dir: resolve(root), origin: 'root' }];
  const out: Candidate[] = [{ dir: join(cacheDir(), name), origin: 'cache' }];
  const shared = sharedDataDir();
  if (shared) out.push({ dir: join(shared, name), origin: 'shared' });
  for (const d of SYSTEM_DIRS[name] ?? []) out.push({ dir: d, origin: 'system' });
  return out;
}
