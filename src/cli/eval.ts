// `oodgen eval`: OoD evaluation of a trained run (Chen 2021, sections 3.2-3.3: Fig. 3.4-3.8). Parses options,
// loads the run and the datasets, calls src/ood evaluate() and writeEvalReport(), prints the Markdown.
import type { Command } from 'commander';
import { OodgenError } from '../errors.js';
import { trainingStatus } from '../train/status.js';
import { buildInfo, getNumThreads, resolveDevice } from '../engine/index.js';
import { createDetector, detectorNames, detectorSpec, type Detector } from '../scores/index.js';
import { runFitData } from '../scores/fit-run.js';
import { bnModeProblem } from '../scores/bn-mode.js';
import { hasCapabilities } from '../models/capabilities.js';
import type { GenerativeModel } from '../models/types.js';
import { addDetectorFlags, detectorModels, detectorOptions, type DetectorCliOptions } from './fit.js';
import type { ProcessGroup } from '../engine/distributed.js';
import { evaluate, type EvalRow } from '../ood/evaluate.js';
import { withScoringRanks } from '../ood/distributed.js';
import { writeEvalReport } from '../ood/report.js';
import { evalSet, intArg, list, loadCheckpoint, loadForModel, type LoadedSet } from './args.js';
import { relaunchWithNproc } from './launch.js';

export interface EvalOptions extends DetectorCliOptions {
  checkpoint: string;
  id: string;
  ood: string[];
  /** Default: defaultEvalScores(model). */
  scores?: string[];
  /** Default: defaultBnModes(model). */
  bn?: string[];
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
  /** Refuse datasets whose channels or size differ from the checkpoint's. */
  strictShape?: boolean;
  log?: (s: string) => void;
  /** This process's rank group of a sharded evaluation (`--nproc N`); null/absent: one process. */
  processGroup?: ProcessGroup | null;
}

export type { EvalRow };

/** Loads the run and sets, evaluates, writes the report; returns the rows, the files and the Markdown. */
export async function runEval(o: EvalOptions): Promise<{ rows: EvalRow[]; files: string[]; markdown: string }> {
  const log = o.log ?? (() => undefined);
  if (o.ood.length === 0) throw new OodgenError('--ood: give at least one OoD dataset');
  for (const s of o.scores ?? []) detectorSpec(s);
  const device = resolveDevice(o.device ?? 'cpu');
  const run = await loadCheckpoint(o.checkpoint, device, o.which);
  const model = run.model;
  const extra: { dispose: () => void }[] = [];
  try {
    // Defaults that suit the model: a flow has no ELBO and no BatchNorm, an AE only its reconstruction error.
    const scores = o.scores ?? defaultEvalScores(model);
    const bn = o.bn ?? defaultBnModes(model);
    if (!o.scores || !o.bn) log(`${o.checkpoint}: ${[!o.scores && `--scores ${scores.join(',')}`, !o.bn && `--bn ${bn.join(',')}`].filter(Boolean).join(', ')} (the defaults for a ${model.config.kind} model)`);
    const seed = o.seed ?? 0;
    const shape = { strictShape: o.strictShape, log };
    const id = await loadForModel(o.id, model, o.limit, seed, shape);
    const oods: LoadedSet[] = [];
    for (const spec of o.ood) oods.push(await loadForModel(spec, model, o.limit, seed, shape));
    log(`${o.checkpoint}: ${model.config.kind}/${model.config.decoder}; ID ${o.id} (${id.set.shape[0]}), OoD ${oods.map((d) => `${d.spec} (${d.set.shape[0]})`).join(', ')}`);
    const sets = [id, ...oods].map(evalSet);
    // Fitted detectors fit on the run's own held-out validation split (its config's training spec, fraction and
    // seed; at most --fit-limit images), never on the evaluated sets.
    const needsFit = scores.some((s) => detectorSpec(s).fits);
    const fitData = needsFit ? (await runFitData(run.config as never, { limit: o.fitLimit })).images : undefined;
    // Multi-model detectors get the runs named by --ensemble / --background / --large-latent.
    const detectorOpts = { k: o.k, samples: o.samples, ...detectorOptions(o) };
    const detectors: (string | Detector)[] = [];
    for (const s of scores) {
      const e = await detectorModels(s, model, o, device);
      extra.push(e);
      detectors.push(e.models.length > 1 ? createDetector(s, e.models, { seed, ...detectorOpts }) : s);
    }
    const r = await evaluate({
      model, detectors, id: sets[0]!, ood: sets.slice(1), bn, detectorOptions: detectorOpts,
      fit: { data: fitData ? { ...fitData, name: fitData.name ?? 'ID validation split' } : undefined, runDir: o.checkpoint },
      batchSize: o.batchSize, seed, bootstrap: o.bootstrap, mixedBatches: o.mixedBatches, log,
      processGroup: o.processGroup,
    });
    const rep = await writeEvalReport(r, {
      out: o.out, title: o.checkpoint, model, sets, charts: o.charts, recon: o.recon, limit: o.limit, training: trainingStatus(o.checkpoint),
      meta: {
        checkpoint: o.checkpoint, which: o.which ?? 'final', device, threads: getNumThreads(), torch: buildInfo().torchVersion,
        shapeConversions: Object.fromEntries([id, ...oods].map((d) => [d.spec, d.conversions])),
      },
    });
    return { rows: r.rows, ...rep };
  } finally {
    extra.forEach((e) => e.dispose());
    model.dispose();
  }
}

export function registerEvalCommand(program: Command, io: { write?: (s: string) => void } = {}): void {
  const write = io.write ?? ((s: string) => void process.stdout.write(s));
  const log = (s: string) => void process.stderr.write(s + '\n');
  addDetectorFlags(program.command('eval')
    .description('OoD evaluation of a run: scores x BN modes x OoD sets -> results.json, results.md, histograms, ROC, component scatter, reconstructions')
    .requiredOption('--checkpoint <dir>', 'run folder')
    .requiredOption('--id <spec>', 'in-distribution test set, e.g. fashion-mnist:test')
    .requiredOption('--ood <specs>', 'comma-separated OoD sets, e.g. mnist:test,noise,constant', list)
    .option('--scores <names>', `comma-separated registered detectors (\`oodgen detectors\`): ${detectorNames().join(', ')} (default: elbo,iwae,components; a flow: exact-nll; an AE: rec)`, list)
    .option('--bn <modes>', 'comma-separated BatchNorm modes: eval, enc, dec, both (default: eval,enc; eval for a model without encoder BatchNorm, e.g. a flow)', list)
    .option('--k <n>', 'IWAE / bpd importance samples', intArg('--k', 1), 50)
    .option('--samples <n>', 'ELBO / components reconstruction samples', intArg('--samples', 1), 1)
    .option('--batch-size <n>', 'images per batch', intArg('--batch-size', 1), 100)
    .option('--limit <n>', 'at most this many images per set, evenly spaced', intArg('--limit', 1))
    .option('--seed <n>', 'seed of noise, synthetic sets and bootstrap', intArg('--seed', 0), 0)
    .option('--bootstrap <n>', 'bootstrap replicates for the 95% intervals (0: none)', intArg('--bootstrap', 0), 200)
    .option('--mixed-batches', 'shuffle ID and OoD images together into each batch (BN batch statistics then mix sets)')
    .option('--recon <n>', 'images per set in recon-<set>.png (0: none)', intArg('--recon', 0), 16)
    .option('--no-charts', 'skip PNG figures')
    .option('--strict-shape', 'refuse datasets whose channels or size differ from the checkpoint (default: convert, and say so on stderr and in results.json)')
    .option('--device <device>', 'cpu | cuda', 'cpu')
    .option('--best', 'use best.safetensors')
    .requiredOption('--out <dir>', 'output folder')
    .option('--nproc <n>', 'ranks that split the images (c10d); scores come back in the original order'))
    .action(async (o) => {
      if (await relaunchWithNproc(o)) return;
      // Every rank computes the whole table from the gathered scores; only rank 0 writes into --out.
      const r = await withScoringRanks(o.device, ({ pg, lead, scratch }) =>
        runEval({ ...o, out: lead ? o.out : scratch(), mixedBatches: !!o.mixedBatches, which: o.best ? 'best' : 'final', log, processGroup: pg }));
      write(r.markdown);
    });
}

/** `oodgen eval`'s default detectors: the likelihood and its terms where the model has them, else what it can run. */
export function defaultEvalScores(model: GenerativeModel): string[] {
  const can = (d: string) => hasCapabilities(model, detectorSpec(d).needs);
  const likelihood = ['elbo', 'iwae', 'components'].filter(can);
  if (likelihood.length) return likelihood;
  if (can('exact-nll')) return ['exact-nll'];
  if (can('rec')) return ['rec'];
  throw new OodgenError(`a ${model.config.kind} model runs none of elbo, iwae, components, exact-nll, rec: name its detectors with --scores`);
}

/** `oodgen eval`'s default BatchNorm modes: running statistics, plus the encoder's batch statistics (Chen 2021 section 3.3.5) where the model has encoder BatchNorm. */
export function defaultBnModes(model: GenerativeModel): string[] {
  return bnModeProblem(model, 'enc') === null ? ['eval', 'enc'] : ['eval'];
}
