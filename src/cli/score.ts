// `oodgen score` (per-sample scores of one dataset under a trained run, as JSON) and `oodgen detectors` (the
// registry's detectors with their papers). The work is in src/scores; this file parses options, loads, prints.
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { buildInfo, getNumThreads, resolveDevice } from '../engine/index.js';
import { progress } from '../data/progress.js';
import {
  BN_MODE_DESCRIPTIONS, createDetector, detectorNames, detectorSpec, listDetectors, parseBnMode, parseScoreName, reportRows, scoreDataset, scoreMixed,
  type ScoreDatasetResult,
} from '../scores/index.js';
import { withScoringRanks } from '../ood/distributed.js';
import { evalSet, intArg, loadCheckpoint, loadForModel } from './args.js';
import { relaunchWithNproc } from './launch.js';

export { loadCheckpoint, loadForModel, type LoadedRun, type LoadedSet } from './args.js';
export { runEval, type EvalOptions } from './eval.js';

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
  /** Record NaN / infinite scores as "NaN" / "Infinity" strings (listed in nonFinite) instead of failing. */
  allowNonFinite?: boolean;
  /** Refuse a dataset whose channels or size differ from the checkpoint's. */
  strictShape?: boolean;
  log?: (s: string) => void;
}

/**
 * Numbers for JSON, which has no NaN or Infinity (JSON.stringify would write null): a non-finite value is written
 * as the string "NaN", "Infinity" or "-Infinity", which `oodgen metrics` reads back.
 */
export const jsonNumbers = (a: Float32Array): (number | string)[] => Array.from(a, (v) => (Number.isFinite(v) ? v : String(v)));

/** Indices of the non-finite values of a, for the score file's record. */
const nonFiniteIndices = (a: Float32Array): number[] => {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) out.push(i);
  return out;
};

/** Scores one dataset with one detector; returns (and writes, with `out`) the JSON object. */
export async function runScore(o: ScoreOptions): Promise<Record<string, unknown>> {
  const score = parseScoreName(o.score);
  const bn = parseBnMode(o.bn ?? 'eval');
  const device = resolveDevice(o.device ?? 'cpu');
  const run = await loadCheckpoint(o.checkpoint, device, o.which);
  try {
    const shape = { strictShape: o.strictShape, log: o.log };
    const data = await loadForModel(o.data, run.model, o.limit, o.seed ?? 0, shape);
    const det = createDetector(score, run.model, { k: o.k, samples: o.samples, seed: o.seed });
    const bar = progress(`${score} ${bn} ${o.data}`, data.set.shape[0]);
    const t0 = performance.now();
    const nonFinite = o.allowNonFinite ? 'keep' : 'error';
    let r: ScoreDatasetResult;
    try {
      if (o.mixWith) {
        const other = await loadForModel(o.mixWith, run.model, o.limit, o.seed ?? 0, shape);
        r = scoreMixed(det, [evalSet(data), evalSet(other)], { batchSize: o.batchSize, bn, seed: o.seed, nonFinite, onProgress: (d) => bar.update(Math.min(d, data.set.shape[0])) })[0]!;
      } else {
        r = scoreDataset(det, evalSet(data), { batchSize: o.batchSize, bn, nonFinite, onProgress: (d) => bar.update(d) });
      }
    } finally {
      bar.stop();
    }
    const seconds = (performance.now() - t0) / 1000;
    const bad = nonFiniteIndices(r.score);
    const out: Record<string, unknown> = {
      scores: jsonNumbers(r.score),
      ...(o.allowNonFinite ? { nonFinite: { count: bad.length, indices: bad, note: 'non-finite scores are written as the strings "NaN", "Infinity", "-Infinity"' } } : {}),
      score,
      higherIs: 'more OoD',
      description: det.description,
      settings: det.settings(),
      columns: Object.fromEntries(Object.entries(r.columns).map(([k, v]) => [k, jsonNumbers(v)])),
      units: detectorSpec(score).units,
      n: r.n,
      bn, bnDescription: BN_MODE_DESCRIPTIONS[bn],
      batchSize: r.batchSize, batching: r.batching, batchingNote: r.batchingNote,
      ...(o.mixWith ? { mixedWith: o.mixWith } : {}),
      checkpoint: o.checkpoint, which: o.which ?? 'final', model: run.model.config,
      data: o.data, preprocessing: data.preprocessing, shapeConversions: data.conversions,
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

/** `oodgen detectors`: one paragraph per registered detector, or JSON. */
export function describeDetectors(json: boolean): string {
  const specs = listDetectors();
  if (json) {
    return JSON.stringify(specs.map((s) => ({
      name: s.name, title: s.title, reference: s.reference, granularity: s.granularity, needs: s.needs, models: s.models ?? { min: 1, max: 1 },
      fits: !!s.fits, options: s.options ?? {}, columns: s.columns, rows: reportRows(s).map((r) => r.row), axis: s.axis, units: s.units,
    })), null, 1) + '\n';
  }
  return specs.map((s) => `${s.name}${s.granularity === 'batch' ? ' (batch)' : ''}${s.fits ? ' (fitted on ID data)' : ''}: ${s.title}\n  ${s.reference}\n` +
    `  needs: ${s.needs.join(', ') || 'nothing'}${s.models && s.models.min > 1 ? `; ${s.models.min}+ models` : ''}\n`).join('');
}

export function registerScoreCommands(program: Command, io: { write?: (s: string) => void } = {}): void {
  const write = io.write ?? ((s: string) => void process.stdout.write(s));
  const log = (s: string) => void process.stderr.write(s + '\n');
  program.command('score')
    .description('per-sample OoD scores of a dataset under a trained run (higher = more OoD), as JSON {"scores": [...], ...}')
    .requiredOption('--checkpoint <dir>', 'run folder (config.json + model.safetensors)')
    .requiredOption('--data <spec>', 'dataset name[:split] (fashion-mnist:test, mnist:test, noise, constant) or a path')
    .option('--score <name>', `a registered detector (\`oodgen detectors\` lists them): ${detectorNames().join(' | ')}`, 'iwae')
    .option('--k <n>', 'IWAE / bpd importance samples', intArg('--k', 1), 50)
    .option('--samples <n>', 'ELBO / components reconstruction samples', intArg('--samples', 1), 1)
    .option('--bn <mode>', 'BatchNorm statistics: eval | enc | dec | both', 'eval')
    .option('--batch-size <n>', 'images per batch (fixed; matters for BN batch statistics)', intArg('--batch-size', 1), 100)
    .option('--limit <n>', 'at most this many images, evenly spaced over the split', intArg('--limit', 1))
    .option('--seed <n>', 'seed of the posterior noise (and synthetic sets)', intArg('--seed', 0), 0)
    .option('--mix-with <spec>', 'score in batches mixed (seeded shuffle) with this dataset; only --data scores are written')
    .option('--device <device>', 'cpu | cuda', 'cpu')
    .option('--best', 'use best.safetensors instead of model.safetensors')
    .option('--strict-shape', 'refuse a dataset whose channels or size differ from the checkpoint (default: convert, and say so on stderr and in the JSON)')
    .option('--allow-non-finite', 'write NaN / infinite scores as "NaN" / "Infinity" strings (listed under nonFinite) instead of failing')
    .requiredOption('--out <file>', 'output JSON')
    .option('--nproc <n>', 'ranks that split the images (c10d); scores come back in the original order')
    .action(async (o) => {
      if (await relaunchWithNproc(o)) return;
      await withScoringRanks(o.device, ({ lead }) => runScore({ ...o, out: lead ? o.out : undefined, which: o.best ? 'best' : 'final', log }));
    });

  program.command('detectors')
    .description('list the registered detectors (usable with --score / --scores) with their papers and what they need from a model')
    .option('--json', 'print JSON')
    .action((o) => write(describeDetectors(!!o.json)));
}
