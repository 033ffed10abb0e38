/**
 * `oodgen latent --checkpoint runs/X --id fashion-mnist --ood mnist:test --out DIR [--bn eval] [--limit 5000] ...`
 *
 * The seed's latent-semantics analysis (Chen 2021, Sec. 3.4, Table 3.1, Figs. 3.9-3.11) on a trained run: encodes
 * ID train, ID test and each OoD set to posterior means, fits a linear SVM ID-vs-OoD with its controls and a
 * one-class score, and writes results.json, results.md (Table 3.1's layout) and the figures into --out.
 * See src/analysis/latent-report.ts for the splits.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { OodgenError } from '../errors.js';
import { loadRun } from '../train/run.js';
import { resolveDevice } from '../engine/device.js';
import { runLatentAnalysis, latentTable } from '../analysis/latent-report.js';
import { progress } from '../data/progress.js';
import * as registry from '../data/registry.js';
// Types only at the top: the analysis and the BN modes load libtorch, which `oodgen --help` must not.
import type { EmbedChoice, LatentAnalysisResult } from '../analysis/latent-report.js';
import type { BnMode } from '../scores/bn-mode.js';

/** Same lists as src/scores/bn-mode.ts BN_MODES and latent-report.ts EMBED_CHOICES (a test checks they agree). */
export const LATENT_BN_MODES: readonly BnMode[] = ['eval', 'enc', 'dec', 'both'];
export const LATENT_EMBED_CHOICES: readonly EmbedChoice[] = ['tsne', 'umap', 'both', 'none'];

export const DEFAULT_LIMIT = 5000;

/** Options as typed on the command line (strings), before validation. */
export interface LatentRawOptions {
  checkpoint: string;
  id: string;
  ood: string;
  out: string;
  bn?: string;
  limit?: string;
  seed?: string;
  device?: string;
  embed?: string;
  k?: string;
  batchSize?: string;
  svmC?: string;
}

export interface LatentOptions {
  checkpoint: string;
  id: string;
  idTrainSpec: string;
  idTestSpec: string;
  oodSpecs: string[];
  out: string;
  bn: BnMode;
  /** undefined = every image. */
  limit: number | undefined;
  seed: number;
  device: string;
  embed: EmbedChoice;
  k: number;
  batchSize: number;
  svmC: number;
}

function intOpt(name: string, v: string | undefined, def: number, min: number, what: string): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new OodgenError(`${name} must be ${what}, got '${v}'`);
  return n;
}

/**
 * Checks everything that can be checked without reading data or loading the model: the checkpoint folder, the
 * dataset names, the option values. Throws OodgenError with the exact problem.
 */
export function checkLatentOptions(raw: LatentRawOptions): LatentOptions {
  const ckpt = resolve(raw.checkpoint);
  if (!existsSync(ckpt)) throw new OodgenError(`checkpoint ${raw.checkpoint} does not exist (expected a run folder written by \`oodgen train\`, e.g. runs/fmnist-vae)`);
  if (!statSync(ckpt).isDirectory()) throw new OodgenError(`checkpoint ${raw.checkpoint} is a file; pass the run folder that holds config.json and the weights`);
  if (!existsSync(join(ckpt, 'config.json'))) throw new OodgenError(`checkpoint ${raw.checkpoint} has no config.json; is it a run folder written by \`oodgen train\`?`);

  const { parseSpec } = registry;
  const id = raw.id.trim();
  if (!id) throw new OodgenError('--id: no dataset given');
  const idSpec = parseSpec(id);
  if (idSpec.split !== undefined) {
    throw new OodgenError(`--id takes a dataset name without a split ('${id}'); it uses ${idSpec.name}:train to fit and ${idSpec.name}:test held out`);
  }
  const oodSpecs = raw.ood.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (oodSpecs.length === 0) throw new OodgenError(`--ood: no dataset given ('${raw.ood}'); e.g. --ood mnist:test,noise:2000`);
  const seen = new Set<string>();
  for (const s of oodSpecs) {
    parseSpec(s); // unknown names throw here
    if (seen.has(s)) throw new OodgenError(`--ood: ${s} listed twice`);
    seen.add(s);
  }
  const bn = (raw.bn ?? 'eval') as BnMode;
  if (!LATENT_BN_MODES.includes(bn)) throw new OodgenError(`unknown BatchNorm mode '${raw.bn}' (expected one of ${LATENT_BN_MODES.join(', ')})`);
  const embed = (raw.embed ?? 'both') as EmbedChoice;
  if (!LATENT_EMBED_CHOICES.includes(embed)) throw new OodgenError(`--embed must be one of ${LATENT_EMBED_CHOICES.join(', ')}, got '${raw.embed}'`);
  const limit = raw.limit === 'all' ? undefined : intOpt('--limit', raw.limit, DEFAULT_LIMIT, 4, "an integer >= 4 or 'all'");
  const seed = intOpt('--seed', raw.seed, 0, 0, 'a non-negative integer');
  const k = intOpt('--k', raw.k, 8, 1, 'a positive integer');
  const batchSize = intOpt('--batch-size', raw.batchSize, 128, 1, 'a positive integer');
  const svmC = raw.svmC === undefined ? 1 : Number(raw.svmC);
  if (!(svmC > 0 && Number.isFinite(svmC))) throw new OodgenError(`--svm-c must be a positive number, got '${raw.svmC}'`);
  const device = raw.device ?? 'cpu';
  if (!/^(cpu|cuda(:\d+)?)$/.test(device)) throw new OodgenError(`unknown device '${device}' (expected cpu, cuda or cuda:N)`);
  return {
    checkpoint: ckpt, id, idTrainSpec: `${id}:train`, idTestSpec: `${id}:test`, oodSpecs, out: resolve(raw.out),
    bn, limit, seed, device, embed, k, batchSize, svmC,
  };
}

const SYNTHETIC = new Set(['noise', 'gaussian-noise', 'constant']);

/** Checks that every dataset's files are here (before the model is loaded). */
export async function resolveLatentOptions(o: LatentOptions): Promise<LatentOptions> {
  for (const spec of [o.idTrainSpec, o.idTestSpec, ...o.oodSpecs]) {
    const p = registry.parseSpec(spec);
    if (p.path === undefined && SYNTHETIC.has(p.name)) continue;
    registry.resolveSpec(spec);
  }
  return o;
}

/** Loads the run and the data, runs the analysis, writes the files; returns the result. */
export async function runLatentCommand(o: LatentOptions, io: { log?: (s: string) => void; argv?: string[] } = {}): Promise<LatentAnalysisResult> {
  const log = io.log ?? ((s: string) => void process.stderr.write(s + '\n'));
  await resolveLatentOptions(o);
  try {
    resolveDevice(o.device);
  } catch (e) {
    throw new OodgenError((e as Error).message);
  }
  const { model, config } = loadRun(o.checkpoint, { device: o.device });
  const cfg = model.config;
  log(o.limit === undefined
    ? 'latent: every image of every set (--limit all)'
    : `latent: at most ${o.limit} images per set, evenly spaced (default ${DEFAULT_LIMIT} for speed on CPU; --limit all for every image)`);
  const load = async (spec: string) => {
    const r = await registry.loadDataset(spec, { imageSize: cfg.imageSize, channels: cfg.channels as 1 | 3, limit: o.limit, seed: o.seed });
    return r;
  };
  const idTrain = await load(o.idTrainSpec);
  const idTest = await load(o.idTestSpec);
  const oods = [];
  for (const s of o.oodSpecs) oods.push({ name: s, ...(await load(s)) });
  log(`latent: ${cfg.kind} (${cfg.decoder} decoder, z = ${cfg.zDim}) from ${o.checkpoint}; ID ${o.id} (${idTrain.set.shape[0]} train / ${idTest.set.shape[0]} test), ` +
    `OoD ${oods.map((s) => `${s.name} (${s.set.shape[0]})`).join(', ')}; BatchNorm ${o.bn}; device ${o.device}`);

  let bar: { label: string; p: ReturnType<typeof progress>; at: number } | null = null;
  const tty = !!process.stderr.isTTY;
  const onProgress = (stage: string, done?: number, total?: number) => {
    const label = stage.startsWith('encode') ? 'encoding' : stage;
    if (bar && bar.label !== label) { bar.p.stop(); bar = null; }
    if (done !== undefined && total !== undefined) {
      if (!bar) bar = { label, p: progress(label, total, { minTotal: 2000, clear: true }), at: 0 };
      bar.p.tick(done - bar.at);
      bar.at = done;
    } else if (tty) process.stderr.write(`latent: ${stage}\n`);
  };
  const argv = io.argv ?? process.argv.slice(2);
  const result = await runLatentAnalysis({
    model, idName: o.id, idTrain: idTrain.set, idTest: idTest.set, ood: oods.map((s) => ({ name: s.name, set: s.set })),
    outDir: o.out, bn: o.bn, limit: o.limit, seed: o.seed, embed: o.embed, k: o.k, batchSize: o.batchSize, svmC: o.svmC,
    onProgress,
    meta: {
      command: ['oodgen', ...argv].join(' '),
      checkpoint: o.checkpoint,
      runConfig: config,
      device: o.device,
      preprocessing: { idTrain: idTrain.preprocessing, idTest: idTest.preprocessing, ood: oods.map((s) => s.preprocessing) },
      date: new Date().toISOString(),
    },
  });
  if (bar) (bar as { p: { stop(): void } }).p.stop();
  model.dispose();
  return result;
}

export function registerLatentCommand(program: Command, io: { write?: (s: string) => void } = {}): Command {
  const write = io.write ?? ((s: string) => void process.stdout.write(s));
  return program
    .command('latent')
    .description('Latent ID/OoD semantics (Chen 2021, Table 3.1): linear SVM on posterior means with controls, one-class score, figures')
    .requiredOption('--checkpoint <dir>', 'run folder (config.json + weights)')
    .requiredOption('--id <dataset>', 'ID dataset name: <name>:train is fitted, <name>:test held out (e.g. fashion-mnist)')
    .requiredOption('--ood <list>', 'comma-separated OoD datasets, e.g. mnist:test,noise:2000; each is split in random halves (fit / held out)')
    .requiredOption('--out <dir>', 'output folder for results.json, results.md and the figures')
    .option('--bn <mode>', `BatchNorm statistics: ${LATENT_BN_MODES.join(', ')} (see oodgen score)`, 'eval')
    .option('--limit <n>', `images per set at most, evenly spaced, or 'all' (default ${DEFAULT_LIMIT}, for speed on CPU)`)
    .option('--seed <s>', 'seed of splits, projections, SVM, embeddings and ELBO noise', '0')
    .option('--device <d>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--embed <m>', `2-D maps: ${LATENT_EMBED_CHOICES.join(', ')}`, 'both')
    .option('--k <n>', 'hardest samples shown per side', '8')
    .option('--batch-size <n>', 'images per forward pass (also the batches of batch-statistics BN modes)', '128')
    .option('--svm-c <c>', 'SVM inverse regularisation C on standardised codes', '1')
    .action(async (raw: LatentRawOptions) => {
      const o = checkLatentOptions(raw);
      const r = await runLatentCommand(o);
      write(`${latentTable(r.table)}\n\nwrote ${join(o.out, 'results.json')}, results.md and ${Object.values(r.pairs[0]?.figures ?? {}).length * r.pairs.length + r.maps.length} figures to ${o.out}\n`);
    });
}
