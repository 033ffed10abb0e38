// The benchmark's named ID/OoD pairs (issue 13 item 2). A pair is an in-distribution test set and one OoD set,
// both dataset specs that `loadDataset` understands (transforms such as `+hflip` included); the runner loads both
// at the model's size and channels, so "MNIST vs a CIFAR-10 model" means MNIST as 3-channel 32x32.
// Pairs whose data is not on this machine are skipped with a note saying how to get it, never an error.
import { existsSync } from 'node:fs';
import { hashFiles, hashSource } from './cache.js';
import { OodgenError } from '../errors.js';
import { resolveSpec, parseSpec } from '../data/registry.js';
import { splitTransforms } from '../data/transforms.js';

export interface Pair {
  name: string;
  id: string;
  ood: string;
  /** Why the pair is in the benchmark (shown in reports). */
  note?: string;
}

const p = (name: string, id: string, ood: string, note?: string): Pair => ({ name, id, ood, ...(note ? { note } : {}) });

const FM = 'fashion-mnist:test';
const C10 = 'cifar10:test';
const CELEBA = 'celeba:test';

/** Every built-in pair, by name. */
export const PAIRS: Record<string, Pair> = Object.fromEntries([
  p('fmnist-mnist', FM, 'mnist:test', 'Chen 2021 ch. 3; the classic "higher OoD likelihood" pair'),
  p('fmnist-hflip', FM, `${FM}+hflip`, 'near-OoD pair of the LPath paper'),
  p('fmnist-vflip', FM, `${FM}+vflip`, 'near-OoD pair of the LPath paper'),
  p('fmnist-noise', FM, 'noise', 'uniform 8-bit noise'),
  p('fmnist-constant', FM, 'constant', 'constant images'),
  p('cifar10-celeba', C10, CELEBA),
  p('cifar10-mnist', C10, 'mnist:test', 'MNIST as 3-channel 32x32'),
  p('cifar10-fmnist', C10, FM, 'Fashion-MNIST as 3-channel 32x32'),
  p('cifar10-hflip', C10, `${C10}+hflip`, 'near-OoD pair of the LPath paper'),
  p('cifar10-vflip', C10, `${C10}+vflip`, 'near-OoD pair of the LPath paper'),
  p('cifar10-noise', C10, 'noise'),
  p('cifar10-constant', C10, 'constant'),
  p('cifar10-svhn', C10, 'svhn:test', 'Chen 2021 ch. 3 colour pair (Nalisnick et al. 2019)'),
  p('cifar10-lsun', C10, 'lsun', 'Chen 2021 ch. 3 colour pair'),
  p('cifar10-cifar100', C10, 'cifar100:test'),
  p('celeba-cifar10', CELEBA, C10),
].map((x) => [x.name, x]));

/** Named groups, so a suite can say "every Fashion-MNIST pair". */
export const PAIR_GROUPS: Record<string, string[]> = {
  fmnist: Object.keys(PAIRS).filter((k) => k.startsWith('fmnist-')),
  cifar10: Object.keys(PAIRS).filter((k) => k.startsWith('cifar10-')),
  celeba: Object.keys(PAIRS).filter((k) => k.startsWith('celeba-')),
};

/** Expands pair names and group names (`fmnist`, `cifar10`, `celeba`); custom {name,id,ood} pairs pass through. */
export function expandPairs(refs: (string | Pair)[]): Pair[] {
  const out: Pair[] = [];
  for (const r of refs) {
    if (typeof r !== 'string') { out.push(r); continue; }
    const names = PAIR_GROUPS[r] ?? [r];
    for (const n of names) {
      const pair = PAIRS[n];
      if (!pair) throw new OodgenError(`unknown pair '${n}' (known: ${Object.keys(PAIRS).join(', ')}; groups: ${Object.keys(PAIR_GROUPS).join(', ')}; or an object {"name", "id", "ood"})`);
      out.push(pair);
    }
  }
  const seen = new Set<string>();
  return out.filter((x) => (seen.has(x.name) ? false : (seen.add(x.name), true)));
}

const SYNTHETIC = new Set(['noise', 'uniform-noise', 'gaussian-noise', 'normal-noise', 'gaussian', 'constant']);

/**
 * Where a dataset spec's images come from, for cache keys and availability: `{ ok: true, source }` with the SHA-256
 * of the split's files (folder datasets) or the source file's content (a changed image, or one moved to another
 * split, changes the key; a data folder moved or re-copied does not), or
 * `{ ok: false, why }` when the data is not here.
 */
export function dataIdentity(spec: string): { ok: true; source: string } | { ok: false; why: string } {
  const base = splitTransforms(spec).base;
  let parsed;
  try {
    parsed = parseSpec(base);
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
  if (parsed.path === undefined && SYNTHETIC.has(parsed.name)) return { ok: true, source: 'synthetic' };
  try {
    const r = resolveSpec(base);
    let source = r.entry.source;
    // A folder dataset: the split's own files as its loader lists them (cache.ts hashFiles); a file or folder: its
    // content (hashSource); a virtual source: its name is the identity.
    const files = r.entry.files?.();
    if (files) source = `sha256:${hashFiles(r.entry.source, files)}`;
    else if (existsSync(source)) source = `sha256:${hashSource(source)}`;
    return { ok: true, source };
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
}

/**
 * An experiment's pairs whose data is on hand, in order and grouped by ID set (each group is scored as one unit); a pair whose
 * data is missing goes to `skipped` with the reason. Shared by detector and latent experiments.
 */
export function availablePairs(experiment: string, refs: (string | Pair)[], skipped: { what: string; why: string }[]): { pairs: Pair[]; byId: Map<string, Pair[]> } {
  const pairs: Pair[] = [];
  const byId = new Map<string, Pair[]>();
  for (const p of expandPairs(refs)) {
    const missing = [p.id, p.ood].map((spec) => ({ spec, r: dataIdentity(spec) })).find((x) => !x.r.ok);
    if (missing && !missing.r.ok) skipped.push({ what: `${experiment}: pair ${p.name} (${p.id} vs ${p.ood})`, why: `${missing.spec}: ${missing.r.why}` });
    else { pairs.push(p); byId.set(p.id, [...(byId.get(p.id) ?? []), p]); }
  }
  return { pairs, byId };
}
