// `oodgen score`, `oodgen eval` and `oodgen bench score`: per-sample likelihood scores of a trained run, OoD
// evaluation with tables and figures (Chen 2021, sections 3.2-3.3: Fig. 3.4-3.8), and the IWAE throughput
// benchmark against PyTorch. The work is in src/scores and src/eval; this file loads runs and data, loops, and
// writes files.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { OodgenError } from '../errors.js';
import { relaunchWithNproc, runShardedCommand } from './launch.js';
import type { ImageSet, PreprocessingRecord } from '../data/types.js';
import type { LatentModel, ModelConfig } from '../models/types.js';
import type { ScoreDatasetResult, ScoreName, BnMode, Detector } from '../scores/index.js';

// ---------------------------------------------------------------------------------------------------------------
// option parsing

function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}
const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

// ---------------------------------------------------------------------------------------------------------------
// loading

export interface LoadedRun {
  model: LatentModel;
  config: { model: ModelConfig; data?: { train?: string } } & Record<string, unknown>;
  dir: string;
}

/** Loads a run folder through src/train/run.ts (the models engineer's loader). */
export async function loadCheckpoint(dir: string, device: string, which: 'final' | 'best' = 'final'): Promise<LoadedRun> {
  const { loadRun } = await import('../train/run.js');
  const r = loadRun(dir, { device, which });
  return { model: r.model, config: r.config as unknown as LoadedRun['config'], dir };
}

export interface LoadedSet {
  spec: string;
  set: ImageSet;
  preprocessing: PreprocessingRecord;
}

/** A dataset spec at the model's image size and channels. */
export async function loadForModel(spec: string, model: LatentModel, limit?: number, seed = 0): Promise<LoadedSet> {
  const { loadDataset } = await import('../data/registry.js');
  const c = model.config;
  const { set, preprocessing } = await loadDataset(spec, { imageSize: c.imageSize, channels: c.channels as 1 | 3, limit, seed });
  return { spec, set, preprocessing };
}

// ---------------------------------------------------------------------------------------------------------------
// progress

interface Bar { update(done: number): void; stop(): void }

function progressBar(label: string, total: number): Bar {
  if (!process.stderr.isTTY || process.env.OODGEN_TEST) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label.padEnd(34)} [{bar}] {value}/{total} {eta_formatted}`, stream: process.stderr, clearOnComplete: false, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (d) => bar.update(d), stop: () => bar.stop() };
}

// ---------------------------------------------------------------------------------------------------------------
// score

export interface ScoreOptions {
  checkpoint: string;
  data: string;
  score: string;
  k?: number;
  samples?: number;
  bn?: string;
  batchSize?: number;
  limit?: number;
  seed?: number;
  device?: string;
  /** Score in batches mixed with this dataset (its scores are not written). */
  mixWith?: string;
  out?: string;
  which?: 'final' | 'best';
  log?: (s: string) => void;
}

const num = (a: Float32Array): (number | null)[] => Array.from(a, (v) => (Number.isFinite(v) ? v : null));

/** Scores one dataset with one detector; returns (and writes, with `out`) the JSON object. */
export async function runScore(o: ScoreOptions): Promise<Record<string, unknown>> {
  const { createDetector, parseScoreName, parseBnMode, scoreDataset, scoreMixed, BN_MODE_DESCRIPTIONS } = await import('../scores/index.js');
  const { resolveDevice, buildInfo, getNumThreads } = await import('../engine/index.js');
  const score = parseScoreName(o.score);
  const bn = parseBnMode(o.bn ?? 'eval');
  const device = resolveDevice(o.device ?? 'cpu');
  const run = await loadCheckpoint(o.checkpoint, device, o.which);
  try {
    const data = await loadForModel(o.data, run.model, o.limit, o.seed ?? 0);
    const det = createDetector(score, run.model, { k: o.k, samples: o.samples, seed: o.seed });
    const bar = progressBar(`${score} ${bn} ${o.data}`, data.set.shape[0]);
    const t0 = performance.now();
    let r: ScoreDatasetResult;
    try {
      if (o.mixWith) {
        const other = await loadForModel(o.mixWith, run.model, o.limit, o.seed ?? 0);
        r = scoreMixed(det, [named(data), named(other)], { batchSize: o.batchSize, bn, seed: o.seed, onProgress: (d) => bar.update(Math.min(d, data.set.shape[0])) })[0]!;
      } else {
        r = scoreDataset(det, named(data), { batchSize: o.batchSize, bn, onProgress: (d) => bar.update(d) });
      }
    } finally {
      bar.stop();
    }
    const seconds = (performance.now() - t0) / 1000;
    const out: Record<string, unknown> = {
      scores: num(r.score),
      score,
      higherIs: 'more OoD',
      description: det.description,
      settings: det.settings(),
      columns: Object.fromEntries(Object.entries(r.columns).map(([k, v]) => [k, num(v)])),
      units: 'nats per image (loglik, elbo, components); bits per dimension (bpd); squared error summed over pixels (rec)',
      n: r.n,
      bn, bnDescription: BN_MODE_DESCRIPTIONS[bn],
      batchSize: r.batchSize, batching: r.batching, batchingNote: r.batchingNote,
      ...(o.mixWith ? { mixedWith: o.mixWith } : {}),
      checkpoint: o.checkpoint, which: o.which ?? 'final', model: run.model.config,
      data: o.data, preprocessing: data.preprocessing,
      device, threads: getNumThreads(), seconds, imagesPerSecond: r.n / seconds,
      engine: { torch: buildInfo().torchVersion },
      createdAt: new Date().toISOString(),
    };
    if (o.out) {
      await writeFile(o.out, JSON.stringify(out) + '\n');
      o.log?.(`${o.out}: ${r.n} ${score} scores of ${o.data} (BN ${bn}; ${r.batchingNote}) in ${seconds.toFixed(1)} s`);
    }
    return out;
  } finally {
    run.model.dispose();
  }
}

function named(d: LoadedSet) {
  return { images: d.set.images, shape: d.set.shape, name: d.spec };
}

// ---------------------------------------------------------------------------------------------------------------
// eval

export interface EvalOptions {
  checkpoint: string;
  id: string;
  ood: string[];
  scores: string[];
  bn: string[];
  k?: number;
  samples?: number;
  batchSize?: number;
  limit?: number;
  seed?: number;
  device?: string;
  bootstrap?: number;
  mixedBatches?: boolean;
  out: string;
  which?: 'final' | 'best';
  /** Reconstructions shown per set (0: no recon-*.png). */
  recon?: number;
  charts?: boolean;
  log?: (s: string) => void;
}

/** One row of the results table: a scalar score (or an ELBO component) under one BN mode, ID vs one OoD set. */
export interface EvalRow {
  score: string;
  bn: BnMode;
  ood: string;
  AUROC: number; 'AUPR-IN': number; 'AUPR-OUT': number; FPR95TPR: number;
  ci: Record<'AUROC' | 'AUPR-IN' | 'AUPR-OUT' | 'FPR95TPR', [number, number]> | null;
  nId: number;
  nOod: number;
  /** Mean raw value (log-likelihood in nats, bpd, ...) of ID and OoD, for the seed's "higher OoD likelihood" reading. */
  meanId: number;
  meanOod: number;
  meanOf: string;
}

/** Scalar scores of a detector's result used in the table: [row name, per-sample OoD score, column shown as mean]. */
function tableScores(score: ScoreName, r: ScoreDatasetResult): [string, Float32Array, string, Float32Array][] {
  const c = r.columns;
  const neg = (a: Float32Array) => a.map((v) => -v);
  switch (score) {
    case 'iwae': return [['iwae', r.score, 'loglik', c.loglik!]];
    case 'elbo': return [['elbo', r.score, 'elbo', c.elbo!]];
    case 'bpd': return [['bpd', r.score, 'bpd', c.bpd!]];
    case 'rec': return [['rec', r.score, 'sse', c.sse!]];
    case 'components': return [
      ['-reconstruction', neg(c.reconstruction!), 'reconstruction', c.reconstruction!],
      ['-prior', neg(c.prior!), 'prior', c.prior!],
      ['-entropy', neg(c.entropy!), 'entropy', c.entropy!],
      ['kl', c.kl!, 'kl', c.kl!],
    ];
  }
}

const meanOf = (a: Float32Array): number => {
  let s = 0, n = 0;
  for (const v of a) if (Number.isFinite(v)) { s += v; n++; }
  return n ? s / n : NaN;
};

/** Lower and upper quantiles of the pooled finite values, to keep outliers (noise sets) from flattening a histogram. */
function robustRange(series: Float32Array[], q = 0.005): [number, number] | undefined {
  const all: number[] = [];
  for (const s of series) for (const v of s) if (Number.isFinite(v)) all.push(v);
  if (all.length < 10) return undefined;
  all.sort((a, b) => a - b);
  const lo = all[Math.floor(q * (all.length - 1))]!, hi = all[Math.ceil((1 - q) * (all.length - 1))]!;
  return hi > lo ? [lo, hi] : undefined;
}

const SCORE_AXIS: Record<ScoreName, string> = {
  iwae: '-log p(x), IWAE (nats)',
  elbo: '-ELBO (nats)',
  bpd: 'bits per dimension',
  components: '-ELBO (nats)',
  rec: 'reconstruction error (sum of squares)',
};

export interface EvalResult {
  rows: EvalRow[];
  files: string[];
  markdown: string;
}

export async function runEval(o: EvalOptions): Promise<EvalResult> {
  const S = await import('../scores/index.js');
  const { resolveDevice, buildInfo, getNumThreads, fromTypedArray, tidy } = await import('../engine/index.js');
  const { oodMetrics, bootstrapMetrics, rocCurve } = await import('../eval/metrics.js');
  const { markdownTable, formatNumber } = await import('../eval/report.js');
  const { histogramChart, rocChart, scatterChart } = await import('../eval/charts.js');
  const { writeImageGrid } = await import('../eval/grid.js');
  const log = o.log ?? (() => undefined);
  if (o.ood.length === 0) throw new OodgenError('--ood: give at least one OoD dataset');
  const scores = o.scores.map(S.parseScoreName);
  const modes = o.bn.map(S.parseBnMode);
  const device = resolveDevice(o.device ?? 'cpu');
  const reps = o.bootstrap ?? 200;
  await mkdir(o.out, { recursive: true });
  const run = await loadCheckpoint(o.checkpoint, device, o.which);
  const model = run.model;
  const files: string[] = [];
  try {
    for (const s of scores) if (s !== 'rec' && model.config.kind === 'ae') throw new OodgenError(`score '${s}' needs a likelihood; ${o.checkpoint} is an autoencoder: use --scores rec`);
    const id = await loadForModel(o.id, model, o.limit, o.seed ?? 0);
    const oods: LoadedSet[] = [];
    for (const spec of o.ood) oods.push(await loadForModel(spec, model, o.limit, o.seed ?? 0));
    const sets = [id, ...oods];
    log(`${o.checkpoint}: ${model.config.kind}/${model.config.decoder}; ID ${o.id} (${id.set.shape[0]}), OoD ${oods.map((d) => `${d.spec} (${d.set.shape[0]})`).join(', ')}`);

    // raw[score][bn][set] = result
    const raw: Record<string, Record<string, ScoreDatasetResult[]>> = {};
    const timing: Record<string, number> = {};
    for (const bn of modes) {
      for (const score of scores) {
        const det: Detector = S.createDetector(score, model, { k: o.k, samples: o.samples, seed: o.seed });
        const t0 = performance.now();
        let res: ScoreDatasetResult[];
        if (o.mixedBatches) {
          const total = sets.reduce((a, d) => a + d.set.shape[0], 0);
          const bar = progressBar(`${score} bn=${bn} mixed`, total);
          try {
            res = S.scoreMixed(det, sets.map(named), { batchSize: o.batchSize, bn, seed: o.seed, onProgress: (d) => bar.update(d) });
          } finally { bar.stop(); }
        } else {
          res = [];
          for (const d of sets) {
            const bar = progressBar(`${score} bn=${bn} ${d.spec}`, d.set.shape[0]);
            try {
              res.push(S.scoreDataset(det, named(d), { batchSize: o.batchSize, bn, onProgress: (n) => bar.update(n) }));
            } finally { bar.stop(); }
          }
        }
        timing[`${score}/${bn}`] = (performance.now() - t0) / 1000;
        log(`  ${score} bn=${bn}: ${timing[`${score}/${bn}`]!.toFixed(1)} s`);
        ((raw[score] ??= {})[bn] = res);
      }
    }

    // metrics
    const rows: EvalRow[] = [];
    for (const score of scores) {
      for (const bn of modes) {
        const res = raw[score]![bn]!;
        const idT = tableScores(score, res[0]!);
        oods.forEach((d, j) => {
          const oT = tableScores(score, res[j + 1]!);
          idT.forEach(([name, idScore, colName, idCol], t) => {
            const [, oodScore, , oodCol] = oT[t]!;
            const m = oodMetrics(idScore, oodScore);
            const b = reps > 0 ? bootstrapMetrics(idScore, oodScore, { reps, seed: o.seed ?? 0 }) : null;
            rows.push({
              score: name, bn, ood: d.spec,
              AUROC: m.AUROC, 'AUPR-IN': m['AUPR-IN'], 'AUPR-OUT': m['AUPR-OUT'], FPR95TPR: m.FPR95TPR,
              ci: b ? { AUROC: [b.AUROC.low, b.AUROC.high], 'AUPR-IN': [b['AUPR-IN'].low, b['AUPR-IN'].high], 'AUPR-OUT': [b['AUPR-OUT'].low, b['AUPR-OUT'].high], FPR95TPR: [b.FPR95TPR.low, b.FPR95TPR.high] } : null,
              nId: m.nId, nOod: m.nOod, meanId: meanOf(idCol), meanOod: meanOf(oodCol), meanOf: colName,
            });
          });
        });
      }
    }

    // figures
    const charts = o.charts ?? true;
    const png = (name: string) => { const p = join(o.out, name); files.push(p); return p; };
    if (charts) {
      for (const score of scores) {
        for (const bn of modes) {
          const res = raw[score]![bn]!;
          const series = sets.map((d, i) => ({ name: `${i === 0 ? 'ID' : 'OoD'} ${d.spec}`, values: res[i]!.score }));
          await histogramChart(png(`hist-${score}-${bn}.png`), series, {
            title: `${score} scores, BN ${bn}`, subtitle: `${o.checkpoint} (${model.config.kind}, ${model.config.decoder} decoder); higher = more OoD`,
            xLabel: SCORE_AXIS[score], range: robustRange(series.map((s) => s.values)), bins: 60,
          });
          const curves = oods.map((d, j) => {
            const rc = rocCurve(res[0]!.score, res[j + 1]!.score);
            return { name: d.spec, fpr: rc.fpr, tpr: rc.tpr, auroc: oodMetrics(res[0]!.score, res[j + 1]!.score).AUROC };
          });
          await rocChart(png(`roc-${score}-${bn}.png`), curves, { title: `ROC of ${score}, BN ${bn}`, subtitle: `ID ${o.id}; OoD positive` });
        }
      }
      const comp = scores.includes('components') ? 'components' : scores.includes('elbo') ? 'elbo' : null;
      if (comp) {
        for (const bn of modes) {
          const res = raw[comp]![bn]!;
          const xy = sets.map((d, i) => {
            const c = res[i]!.columns;
            const y = c.kl ? c.kl.map((v) => -v) : new Float32Array(0);
            return { name: `${i === 0 ? 'ID' : 'OoD'} ${d.spec}`, x: c.reconstruction!, y };
          });
          await scatterChart(png(`components-${bn}.png`), xy, {
            title: `ELBO components, BN ${bn} (Chen 2021 Fig. 3.8)`,
            subtitle: 'x: reconstruction E_q[log p(x|z)]; y: prior + entropy = -KL(q(z|x) || p(z)); nats',
            xLabel: 'E_q[log p(x|z)] (nats)', yLabel: 'E_q[log p(z)] - E_q[log q(z|x)] (nats)', maxPoints: 2000,
          });
        }
      }
      const nRec = o.recon ?? 16;
      if (nRec > 0) {
        const { reconstruct, withBnMode } = S;
        for (const d of sets) {
          const [n, c, h, w] = d.set.shape;
          const m = Math.min(nRec, n);
          const per = c * h * w;
          const input = (d.set.images instanceof Float32Array ? d.set.images : Float32Array.from(d.set.images, (v) => v / 255)).slice(0, m * per);
          const rec = withBnMode(model, 'eval', () => tidy(() => {
            let x = fromTypedArray(input, [m, c, h, w]);
            if (device !== 'cpu') x = x.to(device);
            return reconstruct(model, x).toFloat32Array();
          }));
          const both = new Float32Array(2 * m * per);
          both.set(input, 0);
          both.set(rec, m * per);
          const safe = d.spec.replace(/[^A-Za-z0-9._-]+/g, '_');
          await writeImageGrid(png(`recon-${safe}.png`), both, [2 * m, c, h, w], { nrow: m, scale: 2 });
        }
      }
    }

    // tables and JSON
    const ciCell = (r: EvalRow, k: 'AUROC' | 'AUPR-IN' | 'AUPR-OUT' | 'FPR95TPR') =>
      r.ci ? `${formatNumber(r[k])} [${formatNumber(r.ci[k][0])}, ${formatNumber(r.ci[k][1])}]` : formatNumber(r[k]);
    const table = markdownTable(
      ['score', 'BN', 'OoD set', 'AUROC', 'AUPR-IN', 'AUPR-OUT', 'FPR95', 'mean ID', 'mean OoD', 'of'],
      rows.map((r) => [r.score, r.bn, r.ood, ciCell(r, 'AUROC'), ciCell(r, 'AUPR-IN'), ciCell(r, 'AUPR-OUT'), ciCell(r, 'FPR95TPR'),
        formatNumber(r.meanId, 2), formatNumber(r.meanOod, 2), r.meanOf]),
    );
    const batching = o.mixedBatches
      ? `Batches were **mixed**: the images of all sets were shuffled together (seed ${o.seed ?? 0}) and scored in batches of ${raw[scores[0]!]![modes[0]!]![0]!.batchSize}, so BatchNorm batch statistics (modes enc/dec/both) came from ID and OoD images together.`
      : `Batches held **one dataset each** (batches of ${raw[scores[0]!]![modes[0]!]![0]!.batchSize}, in order; a short last batch is filled up with the preceding images of the same set), so BatchNorm batch statistics (modes enc/dec/both) came from that dataset alone. \`--mixed-batches\` mixes them.`;
    const settings = Object.fromEntries(scores.map((s) => [s, S.createDetector(s, model, { k: o.k, samples: o.samples, seed: o.seed }).settings()]));
    const md = [
      `# OoD evaluation: ${o.checkpoint}`,
      '',
      `Model: ${model.config.kind}, ${model.config.decoder} decoder, z = ${model.config.zDim}, width ${model.config.width}, ${model.config.channels}x${model.config.imageSize}x${model.config.imageSize}.`,
      `ID: ${o.id} (${id.set.shape[0]} images); OoD: ${oods.map((d) => `${d.spec} (${d.set.shape[0]})`).join(', ')}${o.limit ? ` (at most ${o.limit} per set, evenly spaced)` : ''}.`,
      `Scores: ${scores.map((s) => `${s} (${JSON.stringify(settings[s])})`).join('; ')}. Higher score = more OoD; OoD is the positive class.`,
      `BatchNorm modes: ${modes.map((b) => `${b} = ${S.BN_MODE_DESCRIPTIONS[b]}`).join('; ')}.`,
      batching,
      reps > 0 ? `Intervals: percentile bootstrap, ${reps} replicates, 95%.` : '',
      '"mean ID/OoD" is the mean of the column named in "of" (loglik, elbo and the components in nats per image, bpd in bits/dim); components rows score with the negated term (KL as is).',
      '',
      table,
      '',
      `Figures: ${files.map((f) => `[${f.slice(o.out.length + 1)}](${f.slice(o.out.length + 1)})`).join(', ')}.`,
      '',
    ].join('\n');
    const mdPath = join(o.out, 'results.md');
    await writeFile(mdPath, md);
    const results = {
      checkpoint: o.checkpoint, which: o.which ?? 'final', model: model.config, id: o.id, ood: o.ood,
      counts: Object.fromEntries(sets.map((d) => [d.spec, d.set.shape[0]])), limit: o.limit ?? null,
      scores, bn: modes, settings, bootstrap: reps, seed: o.seed ?? 0, batchSize: raw[scores[0]!]![modes[0]!]![0]!.batchSize,
      batching: o.mixedBatches ? 'mixed' : 'per-dataset', batchingNote: batching,
      device, threads: getNumThreads(), torch: buildInfo().torchVersion, seconds: timing,
      preprocessing: Object.fromEntries(sets.map((d) => [d.spec, d.preprocessing])),
      rows, createdAt: new Date().toISOString(),
    };
    await writeFile(join(o.out, 'results.json'), JSON.stringify(results, null, 1) + '\n');
    const perSample: Record<string, unknown> = {};
    for (const score of scores) for (const bn of modes) sets.forEach((d, i) => {
      const r = raw[score]![bn]![i]!;
      perSample[`${score}/${bn}/${d.spec}`] = { scores: num(r.score), columns: Object.fromEntries(Object.entries(r.columns).map(([k, v]) => [k, num(v)])) };
    });
    await writeFile(join(o.out, 'scores.json'), JSON.stringify(perSample) + '\n');
    files.push(mdPath, join(o.out, 'results.json'), join(o.out, 'scores.json'));
    return { rows, files, markdown: md };
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// registration

export function registerScoreCommands(program: Command, io: { write?: (s: string) => void } = {}): void {
  const write = io.write ?? ((s: string) => void process.stdout.write(s));
  const log = (s: string) => void process.stderr.write(s + '\n');
  program.command('score')
    .description('per-sample OoD scores of a dataset under a trained run (higher = more OoD), as JSON {"scores": [...], ...}')
    .requiredOption('--checkpoint <dir>', 'run folder (config.json + model.safetensors)')
    .requiredOption('--data <spec>', 'dataset name[:split] (fashion-mnist:test, mnist:test, noise, constant) or a path')
    .option('--score <name>', 'elbo | iwae | bpd | components | rec', 'iwae')
    .option('--k <n>', 'IWAE / bpd importance samples', intArg('--k', 1), 50)
    .option('--samples <n>', 'ELBO / components reconstruction samples', intArg('--samples', 1), 1)
    .option('--bn <mode>', 'BatchNorm statistics: eval | enc | dec | both', 'eval')
    .option('--batch-size <n>', 'images per batch (fixed; matters for BN batch statistics)', intArg('--batch-size', 1), 100)
    .option('--limit <n>', 'at most this many images, evenly spaced over the split', intArg('--limit', 1))
    .option('--seed <n>', 'seed of the posterior noise (and synthetic sets)', intArg('--seed', 0), 0)
    .option('--mix-with <spec>', 'score in batches mixed (seeded shuffle) with this dataset; only --data scores are written')
    .option('--device <device>', 'cpu | cuda', 'cpu')
    .option('--best', 'use best.safetensors instead of model.safetensors')
    .requiredOption('--out <file>', 'output JSON')
    .option('--nproc <n>', 'ranks that split the images (c10d); scores come back in the original order')
    .action(async (o) => {
      if (await relaunchWithNproc(o)) return;
      await runShardedCommand(o.device, ({ lead }) => runScore({ ...o, out: lead ? o.out : undefined, which: o.best ? 'best' : 'final', log }));
    });

  program.command('eval')
    .description('OoD evaluation of a run: scores x BN modes x OoD sets -> results.json, results.md, histograms, ROC, component scatter, reconstructions')
    .requiredOption('--checkpoint <dir>', 'run folder')
    .requiredOption('--id <spec>', 'in-distribution test set, e.g. fashion-mnist:test')
    .requiredOption('--ood <specs>', 'comma-separated OoD sets, e.g. mnist:test,noise,constant', list)
    .option('--scores <names>', 'comma-separated: elbo, iwae, bpd, components, rec', list, ['elbo', 'iwae', 'components'])
    .option('--bn <modes>', 'comma-separated BatchNorm modes: eval, enc, dec, both', list, ['eval', 'enc'])
    .option('--k <n>', 'IWAE / bpd importance samples', intArg('--k', 1), 50)
    .option('--samples <n>', 'ELBO / components reconstruction samples', intArg('--samples', 1), 1)
    .option('--batch-size <n>', 'images per batch', intArg('--batch-size', 1), 100)
    .option('--limit <n>', 'at most this many images per set, evenly spaced', intArg('--limit', 1))
    .option('--seed <n>', 'seed of noise, synthetic sets and bootstrap', intArg('--seed', 0), 0)
    .option('--bootstrap <n>', 'bootstrap replicates for the 95% intervals (0: none)', intArg('--bootstrap', 0), 200)
    .option('--mixed-batches', 'shuffle ID and OoD images together into each batch (BN batch statistics then mix sets)')
    .option('--recon <n>', 'images per set in recon-<set>.png (0: none)', intArg('--recon', 0), 16)
    .option('--no-charts', 'skip PNG figures')
    .option('--device <device>', 'cpu | cuda', 'cpu')
    .option('--best', 'use best.safetensors')
    .requiredOption('--out <dir>', 'output folder')
    .option('--nproc <n>', 'ranks that split the images (c10d); scores come back in the original order')
    .action(async (o) => {
      if (await relaunchWithNproc(o)) return;
      const r = await runShardedCommand(o.device, ({ lead, scratch }) => runEval({ ...o, out: lead ? o.out : scratch(), mixedBatches: !!o.mixedBatches, which: o.best ? 'best' : 'final', log }));
      write(r.markdown);
    });

  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('benchmarks');
  bench.command('score')
    .description('IWAE throughput (images/s) of oodgen and PyTorch on the same weights and inputs, and their agreement (threads: the global --threads, used by both)')
    .option('--checkpoint <dir>', 'run folder (default: a seeded untrained Fashion-MNIST-sized Gaussian VAE, z 32, width 64)')
    .option('--data <spec>', 'inputs', 'fashion-mnist:test')
    .option('--n <n>', 'images', intArg('--n', 1), 200)
    .option('--k <n>', 'importance samples', intArg('--k', 1), 50)
    .option('--batch-size <n>', 'images per batch', intArg('--batch-size', 1), 100)
    .option('--repeats <n>', 'timed passes over the n images (best is reported)', intArg('--repeats', 1), 1)
    .option('--python <path>', 'Python with torch', process.env.OODGEN_PYTHON ?? '/usr/bin/python3')
    .option('--json', 'print one JSON line')
    .action(async (o) => {
      const { benchScore } = await import('../../bench/score.js');
      const r = await benchScore(o);
      write((o.json ? JSON.stringify(r) : r.markdown) + '\n');
    });
}
