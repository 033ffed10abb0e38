/**
 * `oodgen data inspect PATH|NAME`: reads a file or folder completely (so every check in the readers runs) and
 * reports format, count, shape, dtype and value range. The checker for a file someone hands you.
 */
import { existsSync } from 'node:fs';
import { OodgenError } from '../errors.js';
import { decodeImages, probeImage } from './folder.js';
import { strideIndices, valueRange } from './preprocess.js';
import { parseSpec, resolveNamed, DATASETS } from './registry.js';
import { candidateDirs } from './paths.js';
import { detectDir, scanDir, scanPath, type SplitEntry } from './sources.js';
import type { ImageSet } from './types.js';

export interface SplitReport {
  split: string;
  format: string;
  source: string;
  count: number;
  /** [C, H, W] as stored; for folders of mixed sizes, the most common size. */
  shape: [number, number, number];
  dtype: 'uint8' | 'float32';
  min: number;
  max: number;
  /** Folders: how many images of each WxH; value range from `sampled` images unless --full. */
  sizes?: Record<string, number>;
  sampled?: number;
  labels?: { count: number; min: number; max: number; classes?: string[] };
}

export interface InspectReport { target: string; splits: SplitReport[] }

async function inspectEntry(e: SplitEntry, full: boolean, sample: number): Promise<SplitReport> {
  if (!e.decoded) {
    const set = await e.load({});
    return arrayReport(e, set);
  }
  const info = await e.info();
  // Folder: every header is read (catches non-images and empty files); pixels of a sample, or all with --full.
  const listing = e.classes;
  const files = e.files!();
  const sizes: Record<string, number> = {};
  const probes = await mapLimit(files, 16, probeImage);
  let channels = 1;
  for (const p of probes) {
    const k = `${p.width}x${p.height}`;
    sizes[k] = (sizes[k] ?? 0) + 1;
    if (p.channels >= 3) channels = 3;
  }
  const common = Object.entries(sizes).sort((a, b) => b[1] - a[1])[0]![0].split('x').map(Number) as [number, number];
  const pick = full ? files : Array.from(strideIndices(files.length, sample), (i) => files[i]!);
  let min = 255, max = 0;
  for (const group of chunks(pick, 256)) {
    // Decoding each chunk at native size; mixed sizes are decoded one by one.
    const sets = Object.keys(sizes).length === 1 ? [await decodeImages(group, { name: e.source })] : await Promise.all(group.map((f) => decodeImages([f], { name: f })));
    for (const s of sets) {
      const r = valueRange(s.images);
      min = Math.min(min, r.min);
      max = Math.max(max, r.max);
    }
  }
  const rep: SplitReport = {
    split: e.split, format: e.format, source: e.source, count: info.count, shape: [channels, common[1], common[0]], dtype: 'uint8', min, max, sizes, sampled: pick.length,
  };
  if (listing) rep.labels = { count: files.length, min: 0, max: listing.length - 1, classes: listing };
  return rep;
}

function arrayReport(e: SplitEntry, set: ImageSet): SplitReport {
  const r = valueRange(set.images);
  const rep: SplitReport = {
    split: e.split, format: e.format, source: set.source, count: set.shape[0], shape: [set.shape[1], set.shape[2], set.shape[3]],
    dtype: set.images instanceof Uint8Array ? 'uint8' : 'float32', min: r.min, max: r.max,
  };
  if (set.labels) {
    const l = valueRange(set.labels as unknown as Float32Array);
    rep.labels = { count: set.labels.length, min: l.min, max: l.max };
    if (e.classes) rep.labels.classes = e.classes;
  }
  return rep;
}

function chunks<T>(a: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
}

async function mapLimit<T, R>(items: T[], limit: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  }));
  return out;
}

export interface InspectOptions { full?: boolean; sample?: number; root?: string }

export async function inspectTarget(target: string, opts: InspectOptions = {}): Promise<InspectReport> {
  const full = opts.full ?? false;
  const sample = opts.sample ?? 256;
  const p = parseSpec(target);
  let entries: SplitEntry[];
  if (p.path !== undefined) {
    if (!existsSync(p.path)) throw new OodgenError(`${p.path}: no such file or folder`);
    entries = scanPath(p.path);
    if (p.split !== undefined) entries = entries.filter((e) => e.split === p.split);
  } else if (!DATASETS[p.name]) {
    throw new OodgenError(`${target} is a synthetic set; nothing to inspect (it is generated on demand)`);
  } else if (p.split !== undefined) {
    entries = [resolveNamed(p.name, p.split, opts.root).entry];
  } else {
    const info = DATASETS[p.name]!;
    const seen = new Set<string>();
    entries = [];
    for (const c of candidateDirs(p.name, opts.root)) {
      if (!existsSync(c.dir)) continue;
      const kind = detectDir(c.dir);
      if (!info.kinds.includes(kind)) continue;
      for (const e of scanDir(c.dir, p.name, kind)) if (!seen.has(e.split)) { seen.add(e.split); entries.push(e); }
    }
    if (entries.length === 0) resolveNamed(p.name, undefined, opts.root); // throws the "not found" error
  }
  const splits: SplitReport[] = [];
  for (const e of entries) splits.push(await inspectEntry(e, full, sample));
  return { target, splits };
}

export function formatInspect(r: InspectReport): string {
  const lines = [`${r.target}`];
  for (const s of r.splits) {
    const [c, h, w] = s.shape;
    lines.push(`  ${s.split}: ${s.count} images of ${h}x${w}x${c} ${s.dtype}, values ${fmt(s.min)}..${fmt(s.max)}  [${s.format}] ${s.source}`);
    if (s.sizes && Object.keys(s.sizes).length > 1) lines.push(`    sizes: ${Object.entries(s.sizes).map(([k, v]) => `${k} x${v}`).join(', ')}`);
    if (s.sampled !== undefined && s.sampled < s.count) lines.push(`    value range from ${s.sampled} evenly spaced images (--full decodes all)`);
    if (s.labels) {
      const cls = s.labels.classes;
      // A short list stays on the labels line; CIFAR-100's 100 names are wrapped under it instead of one 900-column line.
      if (cls && cls.length > 10) {
        lines.push(`    labels: ${s.labels.count}, ${s.labels.min}..${s.labels.max}, ${cls.length} classes:`);
        lines.push(...wrapList(cls, 100, '      '));
      } else lines.push(`    labels: ${s.labels.count}, ${s.labels.min}..${s.labels.max}${cls ? ` (${cls.join(', ')})` : ''}`);
    }
  }
  return lines.join('\n');
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(4);
}

/** Comma-separated items as lines of at most `width` characters (an item longer than that gets a line of its own). */
export function wrapList(items: readonly string[], width: number, indent: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const [i, it] of items.entries()) {
    const piece = it + (i < items.length - 1 ? ',' : '');
    if (line && indent.length + line.length + 1 + piece.length > width) { out.push(indent + line); line = piece; }
    else line = line ? `${line} ${piece}` : piece;
  }
  if (line) out.push(indent + line);
  return out;
}
