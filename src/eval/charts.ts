/**
 * PNG charts for OoD experiments: score histograms, ROC curves, scatter maps and training curves.
 *
 * Pipeline: Vega-Lite spec -> Vega View (renderer 'none', headless) -> SVG -> sharp (librsvg) -> PNG.
 * SVG is rendered by librsvg rather than node-canvas because sharp is already a dependency and
 * needs no native build of its own; text is set in DejaVu Sans, which the SVG names explicitly so
 * librsvg does not fall back to whatever fontconfig considers "sans-serif".
 *
 * Data are binned or subsampled here, before they go into the spec, so that the spec written
 * beside a PNG stays small enough to open and edit by hand (e.g. in the Vega editor).
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import sharp from 'sharp';
import { OodgenError } from '../errors.js';
import { sampleIndices } from './prng.js';

export interface ChartOptions {
  title: string;
  subtitle?: string;
  xLabel?: string;
  yLabel?: string;
  /** Plot area in CSS pixels before `scale` (defaults depend on the chart). */
  width?: number;
  height?: number;
  /** Pixel density multiplier of the PNG (default 2, sharp on high-DPI screens and in slides). */
  scale?: number;
  /** Also write the Vega-Lite spec beside the PNG, as `<name>.vl.json`. */
  writeSpec?: boolean;
}

export interface ChartFiles {
  png: string;
  spec?: string;
}

export interface NamedValues {
  name: string;
  values: ArrayLike<number>;
}

export interface NamedXY {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface RocSeries {
  name: string;
  fpr: ArrayLike<number>;
  tpr: ArrayLike<number>;
  auroc?: number;
}

/**
 * Okabe & Ito (2008) colour-blind-safe palette; blue then orange, so the usual first two series
 * (ID, OoD) are the most distinguishable pair.
 */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
const FONT = 'DejaVu Sans';

const CONFIG = {
  font: FONT,
  background: 'white', // a transparent PNG shows black text on black in dark-mode viewers
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#555', anchor: 'start', offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12, symbolSize: 120, labelLimit: 320 },
  view: { stroke: '#bbb' },
} as const;

function colorScale(names: string[]) {
  return { domain: names, range: names.map((_, i) => PALETTE[i % PALETTE.length]!) };
}

function titleOf(opts: ChartOptions, notes: string[] = []) {
  const sub = [opts.subtitle, ...notes].filter((s): s is string => !!s);
  return sub.length > 0 ? { text: opts.title, subtitle: sub } : { text: opts.title };
}

function checkSeries<T extends { name: string }>(series: T[], what: string): void {
  if (series.length === 0) throw new OodgenError(`${what}: no series to plot`);
  const seen = new Set<string>();
  for (const s of series) {
    // Series are told apart by name (colour domain), so duplicates would be merged silently.
    if (seen.has(s.name)) throw new OodgenError(`${what}: duplicate series name "${s.name}"`);
    seen.add(s.name);
  }
}

async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  // Write-then-rename so a crash or a concurrent reader never sees half a file.
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Path of the spec written beside `png`: `roc.png` -> `roc.vl.json`. */
export function specPathFor(png: string): string {
  return png.replace(/\.png$/i, '') + '.vl.json';
}

/** Renders a Vega-Lite spec to SVG text (exported for tests and for callers that want SVG). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders `spec` to a PNG at `path` (and the spec beside it when asked). */
export async function renderChart(path: string, spec: TopLevelSpec, opts: Pick<ChartOptions, 'scale' | 'writeSpec'> = {}): Promise<ChartFiles> {
  const scale = opts.scale ?? 2;
  const svg = await renderSvg(spec);
  // librsvg rasterises SVG user units at 72 dpi; density scales that to `scale` pixels per unit.
  const png = await sharp(Buffer.from(svg), { density: 72 * scale }).png({ compressionLevel: 9 }).toBuffer();
  await mkdir(dirname(path), { recursive: true });
  await writeAtomic(path, png);
  const out: ChartFiles = { png: path };
  if (opts.writeSpec) {
    out.spec = specPathFor(path);
    await writeAtomic(out.spec, JSON.stringify(spec, null, 2) + '\n');
  }
  return out;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function finite(values: ArrayLike<number>): { kept: number[]; dropped: number } {
  const kept: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) kept.push(values[i]!);
  return { kept, dropped: values.length - kept.length };
}

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Bin count by the Freedman–Diaconis rule (width 2 IQR n^-1/3), robust to the long tails that
 * log-likelihood scores have; clamped to [10, 80] so a plot is neither blocky nor noise.
 */
function defaultBins(pooled: number[], lo: number, hi: number): number {
  const s = [...pooled].sort((a, b) => a - b);
  const iqr = quantile(s, 0.75) - quantile(s, 0.25);
  if (!(iqr > 0)) return 30;
  const width = (2 * iqr) / Math.cbrt(s.length);
  return Math.min(80, Math.max(10, Math.ceil((hi - lo) / width)));
}

export interface HistogramOptions extends ChartOptions {
  bins?: number;
  /** Normalise each series to unit area (default true), so sets of different sizes compare by shape. */
  density?: boolean;
  /** Score range to show; values outside are counted in the edge bins (and the subtitle says how many). */
  range?: [number, number];
}

/** Overlaid, semi-transparent histograms on shared bins, e.g. ID vs OoD scores. */
export async function histogramChart(path: string, series: NamedValues[], opts: HistogramOptions): Promise<ChartFiles> {
  checkSeries(series, 'histogramChart');
  const density = opts.density ?? true;
  const data = series.map((s) => ({ name: s.name, ...finite(s.values) }));
  const pooled = data.flatMap((d) => d.kept);
  if (pooled.length === 0) throw new OodgenError('histogramChart: no finite values to plot');
  let lo = opts.range?.[0] ?? pooled.reduce((a, b) => Math.min(a, b));
  let hi = opts.range?.[1] ?? pooled.reduce((a, b) => Math.max(a, b));
  if (!(hi > lo)) {
    // All values equal: give the single bar a visible width.
    lo -= 0.5;
    hi += 0.5;
  }
  const bins = opts.bins ?? defaultBins(pooled, lo, hi);
  if (!Number.isInteger(bins) || bins < 1) throw new OodgenError(`histogramChart: bins must be a positive integer, got ${bins}`);
  const width = (hi - lo) / bins;
  const rows: { series: string; x0: number; x1: number; y: number }[] = [];
  let clipped = 0;
  let dropped = 0;
  for (const d of data) {
    dropped += d.dropped;
    const counts = new Array<number>(bins).fill(0);
    for (const v of d.kept) {
      if (v < lo || v > hi) clipped++;
      counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]!++;
    }
    const norm = density ? 1 / (Math.max(1, d.kept.length) * width) : 1;
    counts.forEach((c, i) => rows.push({ series: d.name, x0: lo + i * width, x1: lo + (i + 1) * width, y: c * norm }));
  }
  const notes = [
    clipped > 0 ? `${plural(clipped, 'value')} outside [${lo.toPrecision(4)}, ${hi.toPrecision(4)}] counted in the edge bins` : '',
    dropped > 0 ? `${plural(dropped, 'non-finite value')} not shown` : '',
  ];
  const names = series.map((s) => s.name);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: CONFIG,
    title: titleOf(opts, notes),
    width: opts.width ?? 560,
    height: opts.height ?? 320,
    data: { values: rows },
    mark: { type: 'rect', opacity: 0.5 },
    encoding: {
      x: { field: 'x0', type: 'quantitative', title: opts.xLabel ?? 'score', scale: { domain: [lo, hi], zero: false, nice: false } },
      x2: { field: 'x1' },
      y: { field: 'y', type: 'quantitative', title: opts.yLabel ?? (density ? 'density' : 'count'), stack: null },
      color: { field: 'series', type: 'nominal', title: null, scale: colorScale(names), sort: names },
    },
  };
  return renderChart(path, spec, opts);
}

/**
 * Keeps the points of a monotone curve that are at least `step` apart in L1 path length, plus the
 * last. The ROC path has L1 length <= 2, so this bounds the points to about 2/step while keeping
 * the corners that matter visually, which a fixed index stride would not.
 */
function downsampleCurve(x: ArrayLike<number>, y: ArrayLike<number>, step: number): { x: number[]; y: number[] } {
  const n = x.length;
  if (n === 0) return { x: [], y: [] };
  const ox = [x[0]!];
  const oy = [y[0]!];
  for (let i = 1; i < n; i++) {
    const d = Math.abs(x[i]! - ox[ox.length - 1]!) + Math.abs(y[i]! - oy[oy.length - 1]!);
    if (d >= step || i === n - 1) {
      ox.push(x[i]!);
      oy.push(y[i]!);
    }
  }
  return { x: ox, y: oy };
}

/** ROC curves with the chance diagonal; the legend shows each curve's AUROC when given. */
export async function rocChart(path: string, curves: RocSeries[], opts: ChartOptions): Promise<ChartFiles> {
  checkSeries(curves, 'rocChart');
  const labels = curves.map((c) => (c.auroc === undefined ? c.name : `${c.name} (AUROC ${c.auroc.toFixed(3)})`));
  const rows: { series: string; i: number; fpr: number; tpr: number }[] = [];
  curves.forEach((c, k) => {
    if (c.fpr.length !== c.tpr.length) throw new OodgenError(`rocChart: "${c.name}" has ${c.fpr.length} fpr but ${c.tpr.length} tpr values`);
    const d = downsampleCurve(c.fpr, c.tpr, 1e-3);
    d.x.forEach((f, i) => rows.push({ series: labels[k]!, i, fpr: f, tpr: d.y[i]! }));
  });
  const side = opts.width ?? 400;
  const axis = { scale: { domain: [0, 1] }, axis: { tickCount: 5 } };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: CONFIG,
    title: titleOf(opts),
    width: side,
    height: opts.height ?? side,
    layer: [
      {
        data: { values: [{ fpr: 0, tpr: 0 }, { fpr: 1, tpr: 1 }] },
        mark: { type: 'line', color: '#999', strokeDash: [5, 4], strokeWidth: 1 },
        encoding: { x: { field: 'fpr', type: 'quantitative' }, y: { field: 'tpr', type: 'quantitative' } },
      },
      {
        data: { values: rows },
        mark: { type: 'line', strokeWidth: 2, interpolate: 'linear' },
        encoding: {
          x: { field: 'fpr', type: 'quantitative', title: opts.xLabel ?? 'false positive rate (ID flagged)', ...axis },
          y: { field: 'tpr', type: 'quantitative', title: opts.yLabel ?? 'true positive rate (OoD detected)', ...axis },
          // Draw in curve order: a ROC curve has vertical runs, which sorting by x would scramble.
          order: { field: 'i', type: 'quantitative' },
          color: {
            field: 'series',
            type: 'nominal',
            title: null,
            scale: colorScale(labels),
            sort: labels,
            legend: { orient: 'bottom-right', fillColor: 'white', strokeColor: '#ccc', padding: 6 },
          },
        },
      },
    ],
  };
  return renderChart(path, spec, opts);
}

export interface ScatterOptions extends ChartOptions {
  /** Points drawn per series at most (default 5000); beyond that the plot is a blob and slow. */
  maxPoints?: number;
  seed?: number;
  /** Marker opacity (default 0.5, so that dense regions read darker). */
  opacity?: number;
}

/** Scatter of several point sets, e.g. score components against each other or a 2-D embedding. */
export async function scatterChart(path: string, series: NamedXY[], opts: ScatterOptions): Promise<ChartFiles> {
  checkSeries(series, 'scatterChart');
  const maxPoints = opts.maxPoints ?? 5000;
  const seed = opts.seed ?? 0;
  const rows: { series: string; x: number; y: number }[] = [];
  const notes: string[] = [];
  series.forEach((s, k) => {
    if (s.x.length !== s.y.length) throw new OodgenError(`scatterChart: "${s.name}" has ${s.x.length} x but ${s.y.length} y values`);
    const ok: number[] = [];
    for (let i = 0; i < s.x.length; i++) if (Number.isFinite(s.x[i]!) && Number.isFinite(s.y[i]!)) ok.push(i);
    // A different seed per series so that equal-sized series are not thinned at the same indices.
    const pick = sampleIndices(ok.length, maxPoints, seed + k);
    for (const j of pick) rows.push({ series: s.name, x: s.x[ok[j]!]!, y: s.y[ok[j]!]! });
    if (pick.length < ok.length) notes.push(`${s.name}: ${pick.length} of ${ok.length} points shown`);
    if (ok.length < s.x.length) notes.push(`${s.name}: ${plural(s.x.length - ok.length, 'non-finite point')} not shown`);
  });
  const names = series.map((s) => s.name);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: CONFIG,
    title: titleOf(opts, notes),
    width: opts.width ?? 480,
    height: opts.height ?? 400,
    data: { values: rows },
    mark: { type: 'circle', size: 14, opacity: opts.opacity ?? 0.5 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xLabel ?? 'x', scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: opts.yLabel ?? 'y', scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, scale: colorScale(names), sort: names },
    },
  };
  return renderChart(path, spec, opts);
}

export interface LineOptions extends ChartOptions {
  /** Log-scale y axis (losses spanning decades); points with y <= 0 are then left out. */
  logY?: boolean;
  /** Points drawn per series at most (default 2000), by even stride keeping the last point. */
  maxPoints?: number;
}

/** Line chart of several series, e.g. training and validation loss against step. */
export async function lineChart(path: string, series: NamedXY[], opts: LineOptions): Promise<ChartFiles> {
  checkSeries(series, 'lineChart');
  const maxPoints = opts.maxPoints ?? 2000;
  const rows: { series: string; i: number; x: number; y: number }[] = [];
  let dropped = 0;
  for (const s of series) {
    if (s.x.length !== s.y.length) throw new OodgenError(`lineChart: "${s.name}" has ${s.x.length} x but ${s.y.length} y values`);
    const ok: number[] = [];
    for (let i = 0; i < s.x.length; i++) {
      const y = s.y[i]!;
      if (Number.isFinite(s.x[i]!) && Number.isFinite(y) && (!opts.logY || y > 0)) ok.push(i);
    }
    dropped += s.x.length - ok.length;
    const stride = Math.max(1, Math.ceil(ok.length / maxPoints));
    for (let j = 0; j < ok.length; j++) {
      if (j % stride === 0 || j === ok.length - 1) rows.push({ series: s.name, i: rows.length, x: s.x[ok[j]!]!, y: s.y[ok[j]!]! });
    }
  }
  const names = series.map((s) => s.name);
  const few = rows.length <= 60 * series.length; // markers help only when points are sparse
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: CONFIG,
    title: titleOf(opts, [dropped > 0 ? `${plural(dropped, 'point')} not shown (non-finite${opts.logY ? ' or <= 0' : ''})` : '']),
    width: opts.width ?? 560,
    height: opts.height ?? 320,
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 2, point: few ? { size: 30 } : false },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xLabel ?? 'step', scale: { zero: false } },
      y: {
        field: 'y',
        type: 'quantitative',
        title: opts.yLabel ?? 'value',
        // nice=false: a nice log domain snaps to whole decades, flattening a loss that spans 3..11.
        scale: opts.logY ? { type: 'log', nice: false } : { zero: false },
      },
      order: { field: 'i', type: 'quantitative' },
      color: { field: 'series', type: 'nominal', title: null, scale: colorScale(names), sort: names },
    },
  };
  return renderChart(path, spec, opts);
}
