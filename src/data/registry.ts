/**
 * Dataset names (`dataset[:split]`) to preprocessed float32 NCHW image sets, and the list of what is available.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { OodgenError } from '../errors.js';
import { candidateDirs, type Origin } from './paths.js';
import { resizeCenterCrop, toChannels } from './preprocess.js';
import { detectDir, scanDir, scanPath, type DirKind, type SplitEntry } from './sources.js';
import { SYNTHETIC_DEFAULT_COUNT, SYNTHETIC_DESCRIPTIONS, syntheticSet, type SyntheticKind } from './synthetic.js';
import type { ImageSet, PreprocessingRecord } from './types.js';
import { applyTransforms, splitTransforms } from './transforms.js';

export interface DatasetInfo {
  name: string;
  kinds: DirKind[];
  splits: string[];
  defaultSplit: string;
  description: string;
}

/** The named datasets. `kinds` are the folder layouts accepted for each. */
export const DATASETS: Record<string, DatasetInfo> = {
  'fashion-mnist': { name: 'fashion-mnist', kinds: ['idx', 'tensors'], splits: ['train', 'test'], defaultSplit: 'train', description: 'Fashion-MNIST, 28x28 gray, IDX' },
  mnist: { name: 'mnist', kinds: ['idx', 'tensors'], splits: ['train', 'test'], defaultSplit: 'train', description: 'MNIST digits, 28x28 gray, IDX' },
  kmnist: { name: 'kmnist', kinds: ['idx', 'tensors'], splits: ['train', 'test'], defaultSplit: 'train', description: 'Kuzushiji-MNIST, 28x28 gray, IDX' },
  cifar10: { name: 'cifar10', kinds: ['cifar-bin', 'images', 'tensors'], splits: ['train', 'test'], defaultSplit: 'train', description: 'CIFAR-10, 32x32 RGB, binary batches or PNG tree' },
  cifar100: {
    name: 'cifar100', kinds: ['cifar100-bin', 'images', 'tensors'], splits: ['train', 'test'], defaultSplit: 'train',
    description: 'CIFAR-100, 32x32 RGB, binary train.bin/test.bin (fine labels 0-99) or PNG tree',
  },
  svhn: { name: 'svhn', kinds: ['svhn', 'tensors'], splits: ['train', 'test', 'extra'], defaultSplit: 'train', description: 'SVHN cropped digits, 32x32 RGB, MAT-file' },
  celeba: { name: 'celeba', kinds: ['celeba', 'images', 'tensors'], splits: ['train', 'valid', 'test', 'all'], defaultSplit: 'train', description: 'CelebA aligned faces, JPEG folder' },
  lsun: { name: 'lsun', kinds: ['images', 'tensors'], splits: ['all', 'train', 'test', 'valid'], defaultSplit: 'all', description: 'LSUN exported images (any image tree)' },
};

const ALIASES: Record<string, string> = {
  fmnist: 'fashion-mnist', fashionmnist: 'fashion-mnist', 'cifar-10': 'cifar10', 'cifar-100': 'cifar100', 'kuzushiji-mnist': 'kmnist',
  'uniform-noise': 'noise', 'normal-noise': 'gaussian-noise', gaussian: 'gaussian-noise',
};

const SYNTHETIC: SyntheticKind[] = ['noise', 'gaussian-noise', 'constant'];

/** A dataset name as the registry spells it (`CIFAR-100` -> `cifar100`); unknown names come back lower-cased. */
export function canonicalName(raw: string): string {
  return ALIASES[raw.toLowerCase()] ?? raw.toLowerCase();
}

export interface LoadDatasetOptions {
  /** Output height and width (shorter side resized, center crop). Default 32, the seed's size. */
  imageSize?: number;
  /** Output channels; default: the dataset's own. */
  channels?: 1 | 3;
  /** At most this many images, evenly spaced over the split. */
  limit?: number;
  /** Look only here (for `<root>/<name>` or the dataset files directly in root). */
  root?: string;
  /** Seed for synthetic sets. */
  seed?: number;
}

export interface ParsedSpec { name: string; split?: string; path?: string }

function looksLikePath(spec: string): boolean {
  return spec.includes('/') || spec.includes('\\') || spec.startsWith('.') || /\.(gz|bin|mat|safetensors|tar|tgz|png|jpe?g)$/i.test(spec) || existsSync(spec);
}

export function parseSpec(spec: string): ParsedSpec {
  spec = splitTransforms(spec).base; // `+hflip` etc. apply after loading (transforms.ts)
  if (looksLikePath(spec)) {
    // A path may carry a split after its last colon (`/data/fmnist:test`) when the part before exists.
    const i = spec.lastIndexOf(':');
    if (i > 1 && existsSync(spec.slice(0, i)) && !existsSync(spec)) return { name: spec.slice(0, i), path: spec.slice(0, i), split: spec.slice(i + 1) };
    return { name: spec, path: spec };
  }
  const [rawName, split, ...rest] = spec.split(':');
  if (rest.length > 0 || !rawName) throw new OodgenError(`dataset name ${JSON.stringify(spec)}: expected dataset[:split], e.g. fashion-mnist:test or noise:10000`);
  const name = canonicalName(rawName);
  if (!DATASETS[name] && !SYNTHETIC.includes(name as SyntheticKind)) {
    throw new OodgenError(`unknown dataset ${JSON.stringify(rawName)}; known: ${[...Object.keys(DATASETS), ...SYNTHETIC].join(', ')}, or a path to a file or folder`);
  }
  return split === undefined || split === '' ? { name } : { name, split };
}

/** Folder layouts in words, for "found X instead" messages. */
const KIND_NAMES: Record<DirKind, string> = {
  idx: 'IDX files', 'cifar-bin': 'CIFAR-10 binary batches', 'cifar100-bin': 'CIFAR-100 binary train.bin/test.bin', svhn: 'SVHN .mat files',
  celeba: 'a CelebA folder', tensors: '<split>.safetensors files', images: 'an image tree', unknown: 'nothing recognized',
};

export interface Resolved { entry: SplitEntry; origin: Origin | 'path'; dir: string }

/** The source for a named dataset split: the first candidate folder that has it. */
export function resolveNamed(name: string, split: string | undefined, root?: string): Resolved {
  const info = DATASETS[name];
  if (!info) throw new OodgenError(`unknown dataset ${name}`);
  const want = split ?? info.defaultSplit;
  const seen: string[] = [];
  for (const c of candidateDirs(name, root)) {
    if (!existsSync(c.dir)) continue;
    const kind = detectDir(c.dir);
    if (!info.kinds.includes(kind)) {
      // Say what is there instead (CIFAR-10 batches in the cifar100 folder, say) rather than only "not found".
      if (kind !== 'unknown' && basename(c.dir) === name) seen.push(`${c.dir} holds ${KIND_NAMES[kind]}, not a ${name} layout (${info.kinds.map((k) => KIND_NAMES[k]).join(', ')})`);
      continue;
    }
    const entries = scanDir(c.dir, name, kind);
    const e = entries.find((x) => x.split === want) ?? (split === undefined && entries.length === 1 ? entries[0] : undefined);
    if (e) return { entry: e, origin: c.origin, dir: c.dir };
    seen.push(`${c.dir} has ${entries.map((x) => x.split).join(', ') || 'nothing usable'}`);
  }
  const where = candidateDirs(name, root).map((c) => c.dir).join(', ');
  const hint = name === 'celeba' || name === 'lsun'
    ? `point oodgen at your copy with \`oodgen data fetch ${name} --from DIR\``
    : `run \`oodgen data fetch ${name}\`, or put its files in ${candidateDirs(name, root)[0]!.dir}`;
  throw new OodgenError(`dataset ${name}:${want} not found (${seen.length ? seen.join('; ') : `looked in ${where}`}); ${hint}`);
}

export function resolveSpec(spec: string, root?: string): Resolved {
  const p = parseSpec(spec);
  if (p.path !== undefined) {
    const entries = scanPath(p.path);
    const e = p.split !== undefined
      ? entries.find((x) => x.split === p.split)
      : entries.find((x) => x.split === 'train') ?? entries[0];
    if (!e) throw new OodgenError(`${p.path}: no split ${p.split} (has ${entries.map((x) => x.split).join(', ')})`);
    return { entry: e, origin: 'path', dir: p.path };
  }
  if (SYNTHETIC.includes(p.name as SyntheticKind)) throw new OodgenError(`${spec} is synthetic and has no files`);
  return resolveNamed(p.name, p.split, root);
}

function syntheticCount(spec: string, split?: string): number {
  if (split === undefined) return SYNTHETIC_DEFAULT_COUNT;
  const n = Number(split);
  if (!Number.isInteger(n) || n < 1) throw new OodgenError(`${spec}: the part after ":" is the image count for synthetic sets; got ${JSON.stringify(split)}`);
  return n;
}

const DEQUANT_NOTE = 'training batches only: x\' = (x*255 + u)/256, u ~ U[0,1) (src/data/preprocess.ts dequantize)';

/**
 * Loads `dataset[:split]` (or a path) as float32 NCHW in [0,1] at imageSize x imageSize with the requested
 * channels, and says exactly what was done.
 */
export async function loadDataset(spec: string, opts: LoadDatasetOptions = {}): Promise<{ set: ImageSet; preprocessing: PreprocessingRecord }> {
  const tf = splitTransforms(spec);
  if (tf.transforms.length) {
    const r = await loadDataset(tf.base, opts);
    return { set: applyTransforms(r.set, tf.transforms), preprocessing: { ...r.preprocessing, transforms: tf.transforms } };
  }
  const size = opts.imageSize ?? 32;
  if (!Number.isInteger(size) || size < 1 || size > 4096) throw new OodgenError(`image size must be a positive integer, got ${size}`);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) throw new OodgenError(`limit must be a positive integer, got ${opts.limit}`);
  const p = parseSpec(spec);
  if (p.path === undefined && SYNTHETIC.includes(p.name as SyntheticKind)) {
    const kind = p.name as SyntheticKind;
    const count = Math.min(syntheticCount(spec, p.split), opts.limit ?? Infinity);
    const c = opts.channels ?? 3;
    const raw = syntheticSet(kind, count, c, size, opts.seed ?? 0);
    return {
      set: resizeCenterCrop(raw, size),
      preprocessing: {
        dataset: kind, split: String(count), format: 'synthetic', source: raw.source, count,
        native: { channels: c, height: size, width: size, dtype: 'uint8' }, size, resize: 'none (generated at size)', crop: 'none',
        channels: { from: c, to: c, method: 'none' }, scaling: 'x/255 to float32 [0,1]', dequantization: DEQUANT_NOTE, labels: false,
        ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      },
    };
  }
  const r = resolveSpec(spec, opts.root);
  const entry = r.entry;
  let set = await entry.load({ size: entry.decoded ? size : undefined, limit: opts.limit });
  const [, c0, h0, w0] = set.shape;
  let native = { channels: c0, height: h0, width: w0, dtype: (set.images instanceof Uint8Array ? 'uint8' : 'float32') as 'uint8' | 'float32' };
  if (entry.decoded) {
    // Folders were resized by the decoder; report the files' own size.
    const inf = await entry.info().catch(() => null);
    if (inf?.shape) native = { ...native, height: inf.shape[1], width: inf.shape[2] };
  }
  const target = opts.channels ?? (c0 as 1 | 3);
  // Gray conversion first and colour expansion last: each step then touches the fewest values.
  if (target === 1 && c0 === 3) set = toChannels(set, 1);
  set = resizeCenterCrop(set, size);
  if (target === 3 && set.shape[1] === 1) set = toChannels(set, 3);
  const name = p.path !== undefined ? p.path : p.name;
  set.name = `${name}:${entry.split}`;
  const same = native.height === size && native.width === size;
  const resize = same
    ? 'none'
    : entry.decoded
      ? 'sharp lanczos3, shorter side to size, in the decoder'
      : 'separable triangle filter (PIL-style antialiased bilinear), shorter side to size';
  return {
    set,
    preprocessing: {
      dataset: name, split: entry.split, format: entry.format, source: entry.source, count: set.shape[0], native, size, resize,
      crop: same || native.height === native.width ? 'none' : 'center',
      channels: { from: c0, to: set.shape[1], method: c0 === set.shape[1] ? 'none' : c0 === 1 ? 'gray replicated to RGB' : 'BT.601 luma (0.299 R + 0.587 G + 0.114 B)' },
      scaling: 'x/255 to float32 [0,1]', dequantization: DEQUANT_NOTE, labels: set.labels !== undefined,
      ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
    },
  };
}

export interface DatasetListing {
  spec: string;
  available: boolean;
  count?: number;
  /** [C,H,W] as stored. */
  shape?: [number, number, number] | null;
  format?: string;
  source?: string;
  origin?: Origin | 'synthetic';
  note?: string;
}

/** Every named dataset split found here (first source wins, as in loadDataset), plus the synthetic sets. */
export async function listDatasets(opts: { root?: string } = {}): Promise<DatasetListing[]> {
  const out: DatasetListing[] = [];
  for (const info of Object.values(DATASETS)) {
    const found = new Set<string>();
    for (const c of candidateDirs(info.name, opts.root)) {
      if (!existsSync(c.dir)) continue;
      let entries: SplitEntry[];
      try {
        const kind = detectDir(c.dir);
        if (!info.kinds.includes(kind)) continue;
        entries = scanDir(c.dir, info.name, kind);
      } catch (e) {
        out.push({ spec: info.name, available: false, source: c.dir, origin: c.origin, note: (e as Error).message });
        continue;
      }
      for (const e of entries) {
        if (found.has(e.split)) continue;
        found.add(e.split);
        try {
          const i = await e.info();
          out.push({ spec: `${info.name}:${e.split}`, available: true, count: i.count, shape: i.shape, format: e.format, source: e.source, origin: c.origin });
        } catch (err) {
          out.push({ spec: `${info.name}:${e.split}`, available: false, format: e.format, source: e.source, origin: c.origin, note: (err as Error).message });
        }
      }
    }
    if (found.size === 0) out.push({ spec: info.name, available: false, note: info.name === 'celeba' || info.name === 'lsun' ? `oodgen data fetch ${info.name} --from DIR` : `oodgen data fetch ${info.name}` });
  }
  for (const k of SYNTHETIC) {
    out.push({ spec: `${k}:N`, available: true, count: SYNTHETIC_DEFAULT_COUNT, shape: null, format: 'synthetic', origin: 'synthetic', note: SYNTHETIC_DESCRIPTIONS[k] });
  }
  return out;
}
