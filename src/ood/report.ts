// Report writers of an OoD evaluation (evaluate.ts): results.md (the table with its provenance), results.json,
// scores.json (every per-sample score and column), and the figures of Chen 2021 Fig. 3.4-3.8: score histograms,
// ROC curves, the ELBO-component scatter and reconstructions.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GenerativeModel, LatentModel } from '../models/types.js';
import { hasCapabilities } from '../models/capabilities.js';
import { fromTypedArray, tidy } from '../engine/index.js';
import { oodMetrics, rocCurve } from '../eval/metrics.js';
import { markdownTable, formatNumber } from '../eval/report.js';
import { histogramChart, rocChart, scatterChart } from '../eval/charts.js';
import type { TrainingStatus } from '../train/status.js';
import { writeImageGrid } from '../eval/grid.js';
import { toUnitFloat } from '../data/batches.js';
import { BN_MODE_DESCRIPTIONS, withBnMode } from '../scores/bn-mode.js';
import { detectorSpec } from '../scores/registry.js';
import { reconstruct } from '../scores/reconstruction.js';
import type { EvalResult, EvalRow, EvalSet } from './evaluate.js';

export interface ReportOptions {
  /** Output folder (created). */
  out: string;
  /** What was evaluated, for titles (a run folder). */
  title: string;
  model: GenerativeModel;
  /** The evaluated sets (ID first), for reconstruction figures. */
  sets?: EvalSet[];
  /** Write PNG figures (default true). */
  charts?: boolean;
  /** Reconstructions shown per set (default 16; 0: none; only for models with an encoder and a decoder). */
  recon?: number;
  /** At most this many images per set were used (for the text). */
  limit?: number;
  /** Extra provenance merged into results.json (checkpoint, device, threads, torch, ...). */
  meta?: Record<string, unknown>;
  /** How far the model's training got (train/status.ts), stated under the model line and in results.json. */
  training?: TrainingStatus;
}

const num = (a: Float32Array): (number | null)[] => Array.from(a, (v) => (Number.isFinite(v) ? v : null));

/** Lower and upper quantiles of the pooled finite values, to keep outliers (noise sets) from flattening a histogram. */
function robustRange(series: Float32Array[], q = 0.005): [number, number] | undefined {
  const all: number[] = [];
  for (const s of series) for (const v of s) if (Number.isFinite(v)) all.push(v);
  if (all.length < 10) return undefined;
  all.sort((a, b) => a - b);
  const lo = all[Math.floor(q * (all.length - 1))]!, hi = all[Math.ceil((1 - q) * (all.length - 1))]!;
  return hi > lo ? [lo, hi] : undefined;
}

/** Histograms, ROC curves, the component scatter and reconstructions; returns the files written. */
export async function writeEvalFigures(r: EvalResult, o: ReportOptions): Promise<string[]> {
  const files: string[] = [];
  const png = (name: string) => { const p = join(o.out, name); files.push(p); return p; };
  const cfg = o.model.config;
  const label = (i: number) => `${i === 0 ? 'ID' : 'OoD'} ${r.sets[i]!.name}`;
  for (const score of r.scores) {
    for (const bn of r.bn) {
      const res = r.raw[score]![bn]!;
      const series = r.sets.map((_, i) => ({ name: label(i), values: res[i]!.score }));
      await histogramChart(png(`hist-${score}-${bn}.png`), series, {
        title: `${score} scores, BN ${bn}`, subtitle: `${o.title} (${cfg.kind}, ${cfg.decoder} decoder); higher = more OoD`,
        xLabel: detectorSpec(score).axis, range: robustRange(series.map((s) => s.values)), bins: 60,
      });
      const curves = r.sets.slice(1).map((d, j) => {
        const rc = rocCurve(res[0]!.score, res[j + 1]!.score);
        return { name: d.name, fpr: rc.fpr, tpr: rc.tpr, auroc: oodMetrics(res[0]!.score, res[j + 1]!.score).AUROC };
      });
      await rocChart(png(`roc-${score}-${bn}.png`), curves, { title: `ROC of ${score}, BN ${bn}`, subtitle: `ID ${r.sets[0]!.name}; OoD positive` });
    }
  }
  const comp = r.scores.includes('components') ? 'components' : r.scores.includes('elbo') ? 'elbo' : null;
  if (comp) {
    for (const bn of r.bn) {
      const res = r.raw[comp]![bn]!;
      const xy = r.sets.map((_, i) => {
        const c = res[i]!.columns;
        return { name: label(i), x: c.reconstruction!, y: c.kl ? c.kl.map((v) => -v) : new Float32Array(0) };
      });
      await scatterChart(png(`components-${bn}.png`), xy, {
        title: `ELBO components, BN ${bn} (Chen 2021 Fig. 3.8)`,
        subtitle: 'x: reconstruction E_q[log p(x|z)]; y: prior + entropy = -KL(q(z|x) || p(z)); nats',
        xLabel: 'E_q[log p(x|z)] (nats)', yLabel: 'E_q[log p(z)] - E_q[log q(z|x)] (nats)', maxPoints: 2000,
      });
    }
  }
  const nRec = o.recon ?? 16;
  if (nRec > 0 && o.sets && hasCapabilities(o.model, ['encode', 'decode'])) {
    const model = o.model as LatentModel;
    for (const d of o.sets) {
      const [n, c, h, w] = d.shape;
      const m = Math.min(nRec, n);
      const per = c * h * w;
      const both = originalsAndReconstructions(model, d.images.subarray(0, m * per), [m, c, h, w]);
      await writeImageGrid(png(`recon-${d.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.png`), both, [2 * m, c, h, w], { nrow: m, scale: 2 });
    }
  }
  return files;
}

/** results.md text: the table and how it was made. */
export function evalMarkdown(r: EvalResult, o: ReportOptions, figures: string[]): string {
  const cfg = o.model.config;
  const ciCell = (row: EvalRow, k: 'AUROC' | 'AUPR-IN' | 'AUPR-OUT' | 'FPR95TPR') =>
    row.ci ? `${formatNumber(row[k])} [${formatNumber(row.ci[k][0])}, ${formatNumber(row.ci[k][1])}]` : formatNumber(row[k]);
  const table = markdownTable(
    ['score', 'BN', 'OoD set', 'AUROC', 'AUPR-IN', 'AUPR-OUT', 'FPR95', 'mean ID', 'mean OoD', 'of'],
    r.rows.map((x) => [x.score, x.bn, x.ood, ciCell(x, 'AUROC'), ciCell(x, 'AUPR-IN'), ciCell(x, 'AUPR-OUT'), ciCell(x, 'FPR95TPR'),
      formatNumber(x.meanId, 2), formatNumber(x.meanOod, 2), x.meanOf]),
  );
  const [id, ...oods] = r.sets;
  const rel = (f: string) => f.slice(o.out.length + 1);
  return [
    `# OoD evaluation: ${o.title}`,
    '',
    `Model: ${cfg.kind}, ${cfg.decoder} decoder, z = ${cfg.zDim}, width ${cfg.width}, ${cfg.channels}x${cfg.imageSize}x${cfg.imageSize}.`,
    ...(o.training ? [`Training: ${o.training.text}.`] : []),
    `ID: ${id!.name} (${id!.n} images); OoD: ${oods.map((d) => `${d.name} (${d.n})`).join(', ')}${o.limit ? ` (at most ${o.limit} per set, evenly spaced)` : ''}.`,
    `Scores: ${r.scores.map((s) => `${s} (${JSON.stringify(r.settings[s])})`).join('; ')}. Higher score = more OoD; OoD is the positive class.`,
    ...(Object.keys(r.fitted).length ? [`Fitted detectors (in-distribution data only): ${Object.entries(r.fitted).map(([k, v]) => `${k} ${v}`).join('; ')}.`] : []),
    `BatchNorm modes: ${r.bn.map((b) => `${b} = ${BN_MODE_DESCRIPTIONS[b]}`).join('; ')}.`,
    r.batchingNote,
    r.bootstrap > 0 ? `Intervals: percentile bootstrap, ${r.bootstrap} replicates, 95%.` : '',
    '"mean ID/OoD" is the mean of the column named in "of" (loglik, elbo and the components in nats per image, bpd in bits/dim); components rows score with the negated term (KL as is).',
    '',
    table,
    '',
    `Figures: ${figures.map((f) => `[${rel(f)}](${rel(f)})`).join(', ')}.`,
    '',
  ].join('\n');
}

/** Writes figures, results.md, results.json and scores.json into o.out; returns the files and the Markdown. */
export async function writeEvalReport(r: EvalResult, o: ReportOptions): Promise<{ files: string[]; markdown: string }> {
  await mkdir(o.out, { recursive: true });
  const figures = (o.charts ?? true) ? await writeEvalFigures(r, o) : [];
  const md = evalMarkdown(r, o, figures);
  const mdPath = join(o.out, 'results.md');
  await writeFile(mdPath, md);
  const [id, ...oods] = r.sets;
  const results = {
    ...o.meta, model: o.model.config, ...(o.training ? { training: o.training } : {}), id: id!.name, ood: oods.map((d) => d.name),
    counts: Object.fromEntries(r.sets.map((d) => [d.name, d.n])), limit: o.limit ?? null,
    scores: r.scores, bn: r.bn, settings: r.settings, ...(Object.keys(r.fitted).length ? { fitted: r.fitted } : {}),
    bootstrap: r.bootstrap, seed: r.seed, batchSize: r.batchSize, batching: r.batching, batchingNote: r.batchingNote,
    seconds: r.seconds, ...(Object.keys(r.derived).length ? { derived: r.derived } : {}), preprocessing: Object.fromEntries(r.sets.map((d) => [d.name, d.preprocessing])),
    rows: r.rows, createdAt: new Date().toISOString(),
  };
  await writeFile(join(o.out, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  const perSample: Record<string, unknown> = {};
  for (const score of r.scores) for (const bn of r.bn) r.sets.forEach((d, i) => {
    const x = r.raw[score]![bn]![i]!;
    perSample[`${score}/${bn}/${d.name}`] = { scores: num(x.score), columns: Object.fromEntries(Object.entries(x.columns).map(([k, v]) => [k, num(v)])) };
  });
  await writeFile(join(o.out, 'scores.json'), JSON.stringify(perSample) + '\n');
  return { files: [...figures, mdPath, join(o.out, 'results.json'), join(o.out, 'scores.json')], markdown: md };
}

/**
 * The first m images of a set followed by the model's reconstructions of them (BatchNorm on running statistics),
 * (2m, C, H, W) in [0, 1]: the two rows of a reconstruction grid.
 */
export function originalsAndReconstructions(model: LatentModel, images: Float32Array | Uint8Array, shape: [number, number, number, number]): Float32Array {
  const [m, c, h, w] = shape;
  const per = c * h * w;
  const input = toUnitFloat(images.subarray(0, m * per));
  const rec = withBnMode(model, 'eval', () => tidy(() => {
    let x = fromTypedArray(input, [m, c, h, w]); // (m, C, H, W)
    if (model.device !== 'cpu') x = x.to(model.device);
    return reconstruct(model, x).toFloat32Array();
  }));
  const both = new Float32Array(2 * m * per);
  both.set(input, 0);
  both.set(rec, m * per);
  return both;
}
