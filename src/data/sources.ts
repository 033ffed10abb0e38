/**
 * Recognizes what a file or folder holds and offers its splits. One place decides formats, so `data inspect`,
 * `data list` and `loadDataset` agree on what a folder is.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { OodgenError } from '../errors.js';
import { CIFAR10, CIFAR100, checkCifarSize, cifarSet, loadCifarBatches, recordSize, type CifarFormat } from './cifar.js';
import { describeFsError, fileIsGzip, fileSize, maybeGunzip, readBytes, readHead } from './files.js';
import { IMAGE_EXTENSIONS, assertFolder, decodeImages, listImageFolder, probeImage, type FolderListing } from './folder.js';
import { loadIdxPair, readIdxHeader } from './idx.js';
import { strideIndices, subset } from './preprocess.js';
import { loadSafetensorsImages } from './safetensors-images.js';
import { loadSvhnMat, svhnInfo } from './svhn.js';
import { readTar } from './tar.js';
import type { ImageSet } from './types.js';

export interface LoadOptions {
  /** Folders decode straight to size x size (shorter side resized, center crop); array formats ignore it. */
  size?: number;
  limit?: number;
}

export interface SplitEntry {
  split: string;
  format: string;
  source: string;
  /** Count and per-image shape [C,H,W] from headers (null where only decoding tells). */
  info(): Promise<{ count: number; shape: [number, number, number] | null }>;
  /** Images at native size for array formats; for folders at `size` when given. `limit` evenly spaced images. */
  load(opts: LoadOptions): Promise<ImageSet>;
  /** Decoded by sharp (resize there) rather than read as arrays. */
  decoded: boolean;
  classes?: string[];
  /** Folder entries: the image files, in order. */
  files?: () => string[];
}

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}
function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}
function firstExisting(dir: string, names: string[]): string | undefined {
  return names.map((n) => join(dir, n)).find(isFile);
}
function limited(set: ImageSet, limit?: number): ImageSet {
  return limit !== undefined && limit < set.shape[0] ? subset(set, strideIndices(set.shape[0], limit)) : set;
}

// ---------- IDX ----------

function idxNames(prefix: string, kind: 'images' | 'labels'): string[] {
  const r = kind === 'images' ? 'idx3' : 'idx1';
  return [`${prefix}-${kind}-${r}-ubyte.gz`, `${prefix}-${kind}-${r}-ubyte`, `${prefix}-${kind}.${r}-ubyte`, `${prefix}-${kind}.${r}-ubyte.gz`];
}

function idxEntry(split: string, images: string, labels: string | undefined, name: string): SplitEntry {
  return {
    split, format: fileIsGzip(images) ? 'IDX (gzip)' : 'IDX', source: images, decoded: false,
    async info() {
      const h = readIdxHeader(images);
      if (h.dims.length !== 3) throw new OodgenError(`IDX file ${images}: rank ${h.dims.length}; an image file must be N x H x W`);
      return { count: h.dims[0]!, shape: [1, h.dims[1]!, h.dims[2]!] };
    },
    async load(o) { return limited(loadIdxPair(images, labels, `${name}:${split}`), o.limit); },
  };
}

function scanIdxDir(dir: string, name: string): SplitEntry[] {
  const out: SplitEntry[] = [];
  for (const [split, prefix] of [['train', 'train'], ['test', 't10k']] as const) {
    const images = firstExisting(dir, idxNames(prefix, 'images'));
    if (!images) continue;
    const labels = firstExisting(dir, idxNames(prefix, 'labels'));
    out.push(idxEntry(split, images, labels, name));
  }
  return out;
}

/** The label file beside an image file, by the usual naming. */
function idxLabelsFor(images: string): string | undefined {
  const b = basename(images);
  if (!b.includes('images')) return undefined;
  const lb = b.replace('images', 'labels').replace('idx3', 'idx1');
  const cands = [lb, lb.endsWith('.gz') ? lb.slice(0, -3) : `${lb}.gz`];
  return firstExisting(dirname(images), cands);
}

// ---------- CIFAR-10 / CIFAR-100 ----------

const CIFAR_TRAIN = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
/** Each version's batch files per split, as in its archive. */
const CIFAR_FILES = new Map<CifarFormat, Record<'train' | 'test', string[]>>([
  [CIFAR10, { train: CIFAR_TRAIN, test: ['test_batch.bin'] }],
  [CIFAR100, { train: ['train.bin'], test: ['test.bin'] }],
]);

function cifarBinEntry(split: string, files: string[], name: string, f: CifarFormat = CIFAR10): SplitEntry {
  return {
    split, format: `${f.title} binary`, source: files.length === 1 ? files[0]! : dirname(files[0]!), decoded: false, classes: f.classes,
    async info() {
      let count = 0;
      for (const p of files) count += checkCifarSize(fileSize(p), p, f);
      return { count, shape: [3, 32, 32] };
    },
    async load(o) { return limited(loadCifarBatches(files, `${name}:${split}`, f), o.limit); },
  };
}

function scanCifarBinDir(dir: string, name: string): SplitEntry[] {
  const d = isDir(join(dir, 'cifar-10-batches-bin')) ? join(dir, 'cifar-10-batches-bin') : dir;
  const out: SplitEntry[] = [];
  const present = CIFAR_TRAIN.filter((f) => isFile(join(d, f)));
  if (present.length > 0) {
    if (present.length < 5) {
      const missing = CIFAR_TRAIN.filter((f) => !present.includes(f));
      throw new OodgenError(`CIFAR-10 folder ${d}: training batches incomplete, missing ${missing.join(', ')}`);
    }
    out.push(cifarBinEntry('train', CIFAR_TRAIN.map((f) => join(d, f)), name));
  }
  if (isFile(join(d, 'test_batch.bin'))) out.push(cifarBinEntry('test', [join(d, 'test_batch.bin')], name));
  return out;
}

/** `cifar-100-binary/{train,test}.bin` as unpacked from cifar-100-binary.tar.gz, or the two files directly in `dir`. */
function scanCifar100BinDir(dir: string, name: string): SplitEntry[] {
  const d = isDir(join(dir, 'cifar-100-binary')) ? join(dir, 'cifar-100-binary') : dir;
  return (['train', 'test'] as const).flatMap((s) => {
    const p = join(d, `${s}.bin`);
    return isFile(p) ? [cifarBinEntry(s, [p], name, CIFAR100)] : [];
  });
}

/**
 * A CIFAR binary tarball as downloaded, read in memory. The version is told by the members inside (data_batch_*.bin
 * or train.bin); until the archive is read, the file name guesses it for `format` and `classes`.
 */
function cifarTarEntries(path: string, name: string): SplitEntry[] {
  let known = /cifar-?100/i.test(basename(path)) ? CIFAR100 : CIFAR10;
  const read = (): Map<string, Uint8Array> => {
    const buf = maybeGunzip(readBytes(path, 'tar archive'), path, 'tar archive');
    return new Map(readTar(buf, path).map((e) => [basename(e.name), e.data]));
  };
  const mk = (split: 'train' | 'test'): SplitEntry => ({
    split, source: path, decoded: false,
    get format() { return `${known.title} binary (tar.gz)`; },
    get classes() { return known.classes; },
    async info() { const set = await this.load({}); return { count: set.shape[0], shape: [3, 32, 32] }; },
    async load(o) {
      const m = read();
      const f = m.has('data_batch_1.bin') || m.has('test_batch.bin') ? CIFAR10 : m.has('train.bin') || m.has('test.bin') ? CIFAR100 : known;
      known = f;
      const parts = CIFAR_FILES.get(f)![split].map((n) => {
        const d = m.get(n);
        if (!d) throw new OodgenError(`tar archive ${path}: no ${n} inside; not the ${f.title} binary archive`);
        return { data: d, path: `${path}:${n}` };
      });
      return limited(cifarSet(parts, f, `${name}:${split}`, path), o.limit);
    },
  });
  return [mk('train'), mk('test')];
}

// ---------- SVHN ----------

function svhnEntry(split: string, path: string, name: string): SplitEntry {
  return {
    split, format: 'MATLAB 5 MAT-file (SVHN)', source: path, decoded: false,
    async info() { return svhnInfo(path); },
    async load(o) { return limited(loadSvhnMat(path, `${name}:${split}`), o.limit); },
  };
}

function scanSvhnDir(dir: string, name: string): SplitEntry[] {
  return ['train', 'test', 'extra'].flatMap((s) => {
    const p = join(dir, `${s}_32x32.mat`);
    return isFile(p) ? [svhnEntry(s, p, name)] : [];
  });
}

// ---------- image folders ----------

function folderEntry(split: string, listing: () => FolderListing, source: string, name: string, format = 'image folder'): SplitEntry {
  let memo: FolderListing | undefined;
  const get = (): FolderListing => (memo ??= listing());
  return {
    split, format, source, decoded: true,
    get classes() { return get().classes; },
    files: () => get().files,
    async info() {
      const l = get();
      const p = await probeImage(l.files[0]!);
      return { count: l.files.length, shape: [p.channels >= 3 ? 3 : 1, p.height, p.width] };
    },
    async load(o) {
      const l = get();
      let files = l.files;
      let labels = l.labels;
      if (o.limit !== undefined && o.limit < files.length) {
        const idx = strideIndices(files.length, o.limit);
        files = Array.from(idx, (i) => l.files[i]!);
        if (labels) labels = Int32Array.from(idx, (i) => l.labels![i]!);
      }
      return decodeImages(files, { size: o.size, name: `${name}:${split}`, source }, labels);
    },
  };
}

/** Whether images sit within three levels below `dir` (split/class/file); stops at the first one. */
function hasImages(dir: string, depth = 3): boolean {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  if (entries.some((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))) return true;
  return depth > 1 && entries.some((e) => e.isDirectory() && !e.name.startsWith('.') && hasImages(join(dir, e.name), depth - 1));
}

const CELEBA_SPLITS: Record<string, number> = { train: 0, valid: 1, val: 1, test: 2 };

function scanCelebaDir(dir: string, name: string): SplitEntry[] {
  const imgDir = isDir(join(dir, 'img_align_celeba')) ? join(dir, 'img_align_celeba') : dir;
  const partition = firstExisting(dir, ['list_eval_partition.txt', 'partition.txt', join('Eval', 'list_eval_partition.txt')]);
  const all = folderEntry('all', () => listImageFolder(imgDir), imgDir, name, 'image folder (CelebA)');
  if (!partition) return [all];
  const bySplit = (want: number) => (): FolderListing => {
    const present = new Set(readdirSync(imgDir));
    const files: string[] = [];
    const lines = readFileSync(partition, 'utf8').split(/\r?\n/);
    lines.forEach((line, i) => {
      const t = line.trim();
      if (!t) return;
      const m = /^(\S+)\s+([012])$/.exec(t);
      if (!m) throw new OodgenError(`CelebA partition file ${partition}: line ${i + 1} ${JSON.stringify(t.slice(0, 60))} is not "<file> <0|1|2>"`);
      if (Number(m[2]) !== want) return;
      if (!present.has(m[1]!)) throw new OodgenError(`CelebA partition file ${partition}: line ${i + 1} lists ${m[1]}, which is not in ${imgDir}`);
      files.push(join(imgDir, m[1]!));
    });
    if (files.length === 0) throw new OodgenError(`CelebA partition file ${partition}: no images in split ${want}`);
    return { root: imgDir, files };
  };
  return [
    folderEntry('train', bySplit(0), imgDir, name, 'image folder (CelebA)'),
    folderEntry('valid', bySplit(1), imgDir, name, 'image folder (CelebA)'),
    folderEntry('test', bySplit(2), imgDir, name, 'image folder (CelebA)'),
    all,
  ];
}

function scanImageTree(dir: string, name: string): SplitEntry[] {
  const subs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  const splitDirs = subs.filter((s) => ['train', 'test', 'valid', 'val'].includes(s) && hasImages(join(dir, s)));
  if (splitDirs.length > 0) {
    return splitDirs.map((s) => folderEntry(s === 'val' ? 'valid' : s, () => listImageFolder(join(dir, s)), join(dir, s), name));
  }
  return [folderEntry('all', () => listImageFolder(dir), dir, name)];
}

// ---------- tensor folders ----------

/** Split names a tensor folder may hold, as `<split>.safetensors`. */
const TENSOR_SPLITS = ['train', 'valid', 'test', 'extra', 'all'];

/**
 * A folder of `<split>.safetensors` files (safetensors-images.ts): a named dataset prepared elsewhere at its final
 * size, e.g. CelebA decoded to 32x32 uint8 to travel to a GPU machine without sharp or the JPEGs
 * (scripts/gpu/prepare.sh). `celeba:train` then reads `$OODGEN_DATA/celeba/train.safetensors`.
 */
function scanTensorDir(dir: string, name: string): SplitEntry[] {
  return TENSOR_SPLITS.flatMap((s) => {
    const p = join(dir, `${s}.safetensors`);
    if (!isFile(p)) return [];
    const e = scanFile(p, name)[0]!;
    return [{ ...e, split: s, format: 'safetensors (split folder)' }];
  });
}

// ---------- detection ----------

export type DirKind = 'idx' | 'cifar-bin' | 'cifar100-bin' | 'svhn' | 'celeba' | 'tensors' | 'images' | 'unknown';

export function detectDir(dir: string): DirKind {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new OodgenError(`dataset folder ${dir}: ${describeFsError(e)}`);
  }
  if (names.some((n) => /-(images|labels)[-.]idx[13]-ubyte(\.gz)?$/.test(n))) return 'idx';
  if (names.includes('cifar-10-batches-bin') || names.some((n) => /^(data_batch_\d|test_batch)\.bin$/.test(n))) return 'cifar-bin';
  if (names.includes('cifar-100-binary') || names.some((n) => /^(train|test)\.bin$/.test(n))) return 'cifar100-bin';
  if (names.some((n) => /^(train|test|extra)_32x32\.mat$/.test(n))) return 'svhn';
  if (names.includes('img_align_celeba')) return 'celeba';
  if (TENSOR_SPLITS.some((sp) => names.includes(`${sp}.safetensors`))) return 'tensors';
  if (hasImages(dir)) return 'images';
  return 'unknown';
}

/** The splits a folder holds. */
export function scanDir(dir: string, name: string, kind = detectDir(dir)): SplitEntry[] {
  switch (kind) {
    case 'idx': return scanIdxDir(dir, name);
    case 'cifar-bin': return scanCifarBinDir(dir, name);
    case 'cifar100-bin': return scanCifar100BinDir(dir, name);
    case 'svhn': return scanSvhnDir(dir, name);
    case 'celeba': return scanCelebaDir(dir, name);
    case 'tensors': return scanTensorDir(dir, name);
    case 'images': return scanImageTree(dir, name);
    case 'unknown': return [];
  }
}

/**
 * Which CIFAR version a lone .bin file is: by its size (whole records of one and not the other), else by the
 * CIFAR-100 names train.bin / test.bin; CIFAR-10 otherwise. Loading still checks sizes and label ranges.
 */
function cifarFileFormat(path: string): CifarFormat {
  const size = fileSize(path);
  if (size > 0 && size % recordSize(CIFAR10) === 0) return CIFAR10;
  if (size > 0 && size % recordSize(CIFAR100) === 0) return CIFAR100;
  return /^(train|test)\.bin$/.test(basename(path).toLowerCase()) ? CIFAR100 : CIFAR10;
}

/** A single file: IDX, CIFAR batch, CIFAR tarball, MAT-file or safetensors, recognized by content first. */
export function scanFile(path: string, name: string): SplitEntry[] {
  const head = readHead(path, 128, 'data file');
  const lower = path.toLowerCase();
  const split = 'all';
  if (lower.endsWith('.safetensors')) {
    return [{ split, format: 'safetensors', source: path, decoded: false,
      async info() { const s = loadSafetensorsImages(path, name); return { count: s.shape[0], shape: [s.shape[1], s.shape[2], s.shape[3]] }; },
      async load(o) { return limited(loadSafetensorsImages(path, name), o.limit); } }];
  }
  if (lower.endsWith('.mat') || Buffer.from(head.subarray(0, 10)).toString('latin1') === 'MATLAB 5.0') return [svhnEntry(split, path, name)];
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz') || lower.endsWith('.tar')) return cifarTarEntries(path, name);
  if (head.length >= 4 && head[0] === 0 && head[1] === 0 && head[2] === 8) return [idxEntry(split, path, idxLabelsFor(path), name)];
  if (lower.endsWith('.bin')) return [cifarBinEntry(split, [path], name, cifarFileFormat(path))];
  if (lower.includes('idx')) return [idxEntry(split, path, idxLabelsFor(path), name)];
  if (IMAGE_EXTENSIONS.has(extname(lower))) {
    return [folderEntry(split, () => ({ root: dirname(path), files: [path] }), path, name, 'image file')];
  }
  throw new OodgenError(`data file ${path}: unrecognized format (expected IDX, CIFAR-10/100 .bin, .mat, .safetensors, a CIFAR-10/100 .tar.gz, or an image)`);
}

/** Splits of a file or folder path. */
export function scanPath(path: string, name = basename(path)): SplitEntry[] {
  if (!existsSync(path)) throw new OodgenError(`dataset path ${path}: no such file or folder`);
  if (isDir(path)) {
    assertFolder(path, 'dataset folder');
    const entries = scanDir(path, name);
    if (entries.length === 0) {
      throw new OodgenError(`dataset folder ${path}: found no dataset files (IDX, CIFAR-10 batches, CIFAR-100 train.bin/test.bin, *_32x32.mat, img_align_celeba, <split>.safetensors, or images)`);
    }
    return entries;
  }
  return scanFile(path, name);
}
