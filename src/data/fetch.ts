/**
 * `oodgen data fetch NAME`: downloads into the cache (OODGEN_DATA, default ~/.cache/oodgen) from the canonical
 * hosts, resuming partial downloads with HTTP Range, verifying md5 (the checksums the hosts and torchvision
 * publish), and renaming into place only when the checksum matches. CelebA and LSUN have no direct download
 * (licence click-through, size), so for them the user points at a folder and the cache records a link to it.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, writeSync, lstatSync, mkdirSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { OodgenError } from '../errors.js';
import { CIFAR10, CIFAR100, recordSize, type CifarFormat } from './cifar.js';
import { maybeGunzip, readBytes } from './files.js';
import { cacheDir } from './paths.js';
import { canonicalName } from './registry.js';
import { detectDir, scanDir } from './sources.js';
import { readTar } from './tar.js';

export interface RemoteFile { url: string; file: string; md5: string; optional?: boolean }

const MNIST_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
function idxFiles(base: string, md5s: string[]): RemoteFile[] {
  return MNIST_FILES.map((f, i) => ({ url: base + f, file: f, md5: md5s[i]! }));
}

/**
 * Canonical sources and md5 checksums (as used by torchvision; for CIFAR-100's binary version, which torchvision does
 * not download, the md5 the publisher lists on https://www.cs.toronto.edu/~kriz/cifar.html, 168,513,733 bytes).
 */
export const REMOTE: Record<string, RemoteFile[]> = {
  mnist: idxFiles('https://ossci-datasets.s3.amazonaws.com/mnist/', [
    'f68b3c2dcbeaaa9fbdd348bbdeb94873', 'd53e105ee54ea40749a09fcbcd1e9432', '9fb629c4189551a2d022fa330f9573f3', 'ec29112dd5afa0611ce80d1b7f02629c',
  ]),
  'fashion-mnist': idxFiles('http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/', [
    '8d4fb7e6c68d591d4c3dfef9ec88bf0d', '25c81989df183df01b3e8a0aad5dffbe', 'bef4ecab320f06d8554ea6380940ec79', 'bb300cfdad3c16e7a12a480ee83cd310',
  ]),
  kmnist: idxFiles('http://codh.rois.ac.jp/kmnist/dataset/kmnist/', [
    'bdb82020997e1d708af4cf47b453dcf7', 'e144d726b3acfaa3e44228e80efcd344', '5c965bf0a639b31b8f53240b1b52f4d7', '7320c461ea6c1c855c0b718fb2a4b134',
  ]),
  cifar10: [{ url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', file: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' }],
  cifar100: [{ url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz', file: 'cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8' }],
  svhn: [
    { url: 'http://ufldl.stanford.edu/housenumbers/train_32x32.mat', file: 'train_32x32.mat', md5: 'e26dedcc434d2e4c54c9b2d4a06d8373' },
    { url: 'http://ufldl.stanford.edu/housenumbers/test_32x32.mat', file: 'test_32x32.mat', md5: 'eb5a983be6a315427106f1b69d2f1b3f' },
    { url: 'http://ufldl.stanford.edu/housenumbers/extra_32x32.mat', file: 'extra_32x32.mat', md5: 'a93ce644f1a588dc4d68dda5feec44a7', optional: true },
  ],
};

export const FROM_FOLDER = new Set(['celeba', 'lsun']);

export async function md5File(path: string): Promise<string> {
  const h = createHash('md5');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

export interface FetchFileOptions {
  md5?: string;
  onProgress?: (received: number, total: number | undefined) => void;
  /** Abort when no byte arrives for this long (ms). */
  stallTimeoutMs?: number;
}

/**
 * Downloads `url` to `dest`. Bytes go to `dest.part`; a later call continues from its size with a Range request
 * (a server that answers 200 instead of 206 is restarted from zero). On checksum mismatch the part file is
 * deleted (its bytes are wrong, resuming would keep them) and an OodgenError names the URL and both sums.
 */
export async function fetchFile(url: string, dest: string, opts: FetchFileOptions = {}): Promise<'cached' | 'downloaded'> {
  if (existsSync(dest) && (!opts.md5 || (await md5File(dest)) === opts.md5)) return 'cached';
  const part = `${dest}.part`;
  const have = existsSync(part) ? statSync(part).size : 0;
  const ctrl = new AbortController();
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  let timer = setTimeout(() => ctrl.abort(), stallMs);
  const poke = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => ctrl.abort(), stallMs);
  };
  try {
    let res: Response;
    try {
      res = await fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal: ctrl.signal, redirect: 'follow' });
    } catch (e) {
      throw new OodgenError(`download ${url}: ${ctrl.signal.aborted ? 'timed out' : ((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
    }
    let append = false;
    if (res.status === 206 && have > 0) append = true;
    else if (res.status === 416 && have > 0) {
      // The part file already holds everything; fall through to verification.
      await res.body?.cancel();
    } else if (res.status !== 200) {
      await res.body?.cancel();
      throw new OodgenError(`download ${url}: HTTP ${res.status} ${res.statusText}`);
    }
    if (res.status !== 416) {
      const len = Number(res.headers.get('content-length') ?? NaN);
      const total = Number.isFinite(len) ? len + (append ? have : 0) : undefined;
      let received = append ? have : 0;
      // Synchronous writes per chunk: whatever arrived is on disk when the connection drops, so a rerun resumes from it.
      const fd = openSync(part, append ? 'a' : 'w');
      try {
        const reader = (res.body as import('node:stream/web').ReadableStream<Uint8Array>).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          writeSync(fd, value);
          received += value.length;
          poke();
          opts.onProgress?.(received, total);
        }
      } catch (e) {
        const why = ctrl.signal.aborted ? `no data for ${stallMs / 1000} s` : (e as Error).message;
        throw new OodgenError(`download ${url}: interrupted after ${received} bytes (${why}); run the command again to resume`);
      } finally {
        closeSync(fd);
      }
      if (total !== undefined && received !== total) {
        throw new OodgenError(`download ${url}: connection closed after ${received} of ${total} bytes; run the command again to resume`);
      }
    }
  } finally {
    clearTimeout(timer);
  }
  if (opts.md5) {
    const got = await md5File(part);
    if (got !== opts.md5) {
      unlinkSync(part);
      throw new OodgenError(`download ${url}: checksum mismatch for ${dest}: expected md5 ${opts.md5}, got ${got}; the download was deleted, run the command again (or check the mirror)`);
    }
  }
  renameSync(part, dest);
  return 'downloaded';
}

/** What each CIFAR archive unpacks to: its folder, the files kept (batches and label names) and the batch count. */
const CIFAR_ARCHIVES = new Map<CifarFormat, { folder: string; keep: RegExp; batches: number }>([
  [CIFAR10, { folder: 'cifar-10-batches-bin', keep: /^(data_batch_[1-5]|test_batch)\.bin$|^batches\.meta\.txt$/, batches: 6 }],
  [CIFAR100, { folder: 'cifar-100-binary', keep: /^(train|test)\.bin$|^(fine|coarse)_label_names\.txt$/, batches: 2 }],
]);

/**
 * Unpacks a CIFAR binary tarball into `<dir>/cifar-10-batches-bin/` (CIFAR-10) or `<dir>/cifar-100-binary/`
 * (CIFAR-100), each file atomically. A batch whose size is not whole records of `f` is refused before it is written.
 */
export function extractCifar(tarPath: string, dir: string, f: CifarFormat = CIFAR10): string[] {
  const a = CIFAR_ARCHIVES.get(f)!;
  const buf = maybeGunzip(readBytes(tarPath, 'tar archive'), tarPath, 'tar archive');
  const out = join(dir, a.folder);
  const entries = readTar(buf, tarPath).filter((e) => a.keep.test(e.name.split('/').pop()!));
  const bins = entries.filter((e) => e.name.endsWith('.bin'));
  if (bins.length !== a.batches) {
    throw new OodgenError(`tar archive ${tarPath}: expected ${a.batches} ${f.title} batches (${a.folder}/), found ${bins.length}; not the ${f.title} binary archive`);
  }
  for (const e of bins) {
    if (e.data.length % recordSize(f) !== 0) {
      throw new OodgenError(`tar archive ${tarPath}: ${e.name} has size ${e.data.length}, not a multiple of the ${f.title} record (${recordSize(f)} bytes)`);
    }
  }
  mkdirSync(out, { recursive: true });
  const written: string[] = [];
  for (const e of entries) {
    const p = join(out, e.name.split('/').pop()!);
    writeFileSync(`${p}.tmp`, e.data);
    renameSync(`${p}.tmp`, p);
    written.push(p);
  }
  return written;
}

export interface FetchDatasetOptions {
  /** Cache root; default OODGEN_DATA / ~/.cache/oodgen. */
  root?: string;
  /** CelebA / LSUN: the folder holding the user's copy. */
  from?: string;
  /** Replace the host part of every URL (mirrors, tests). */
  baseUrl?: string;
  /** Also fetch optional files (SVHN extra). */
  all?: boolean;
  log?: (msg: string) => void;
  onProgress?: (file: string, received: number, total: number | undefined) => void;
}

export async function fetchDataset(name: string, opts: FetchDatasetOptions = {}): Promise<string> {
  name = canonicalName(name); // `cifar-100`, `fmnist`: the folder is the registry's name, where loadDataset looks
  const root = resolve(opts.root ?? cacheDir());
  const dir = join(root, name);
  const log = opts.log ?? (() => undefined);
  if (FROM_FOLDER.has(name)) {
    if (!opts.from) throw new OodgenError(`${name} has no direct download; get it from its authors and run \`oodgen data fetch ${name} --from DIR\``);
    const src = resolve(opts.from);
    if (!existsSync(src) || !statSync(src).isDirectory()) throw new OodgenError(`${name}: folder ${src} does not exist`);
    const kind = detectDir(src);
    const ok = name === 'celeba' ? kind === 'celeba' || kind === 'images' : kind === 'images';
    if (!ok) throw new OodgenError(`${name}: ${src} holds no images${name === 'celeba' ? ' (expected img_align_celeba/ or JPEG files)' : ''}`);
    const entries = scanDir(src, name, kind);
    mkdirSync(root, { recursive: true });
    let exists = false;
    try { exists = lstatSync(dir).isSymbolicLink() || existsSync(dir); } catch { exists = false; }
    if (exists) {
      if (!lstatSync(dir).isSymbolicLink()) throw new OodgenError(`${name}: ${dir} already exists and is not a link; remove it first`);
      unlinkSync(dir);
    }
    symlinkSync(src, dir, 'dir');
    log(`${name}: linked ${dir} -> ${src} (splits: ${entries.map((e) => e.split).join(', ')})`);
    return dir;
  }
  const files = REMOTE[name];
  if (!files) throw new OodgenError(`unknown dataset ${JSON.stringify(name)} for fetch; fetchable: ${[...Object.keys(REMOTE), ...FROM_FOLDER].join(', ')}`);
  mkdirSync(dir, { recursive: true });
  for (const f of files) {
    if (f.optional && !opts.all) continue;
    const url = opts.baseUrl ? opts.baseUrl.replace(/\/$/, '') + new URL(f.url).pathname : f.url;
    const r = await fetchFile(url, join(dir, f.file), { md5: f.md5, onProgress: (a, b) => opts.onProgress?.(f.file, a, b) });
    log(`${name}: ${f.file} ${r === 'cached' ? 'already present, checksum ok' : 'downloaded, checksum ok'}`);
  }
  unpackFetched(name, dir, log);
  return dir;
}

/** After the downloads of `name` into `dir` are checked: unpacks the CIFAR archives, unless already unpacked. */
export function unpackFetched(name: string, dir: string, log: (msg: string) => void = () => undefined): void {
  const f = name === 'cifar10' ? CIFAR10 : name === 'cifar100' ? CIFAR100 : undefined;
  if (!f) return;
  const { folder } = CIFAR_ARCHIVES.get(f)!;
  if (existsSync(join(dir, folder, f === CIFAR10 ? 'test_batch.bin' : 'test.bin'))) return;
  extractCifar(join(dir, REMOTE[name]![0]!.file), dir, f);
  log(`${name}: extracted ${folder}/`);
}
