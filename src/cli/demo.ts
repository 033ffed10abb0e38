// `oodgen demo`: the main job on the embedded default data. Trains a Gaussian-decoder VAE on Fashion-MNIST
// (Debian's dataset-fashion-mnist) within a few minutes on a CPU, then evaluates it against MNIST, uniform noise
// and constant images, writing runs/demo/ with results.md, PNG figures and the checkpoint. The seed thesis'
// first claim in miniature: with a Gaussian decoder the likelihood ranks Fashion-MNIST above MNIST (Chen 2021,
// Fig. 3.4), where a categorical decoder would not.
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { OodgenError } from '../errors.js';
import { loadDataset } from '../data/registry.js';
import { fetchDataset } from '../data/fetch.js';
import { train } from '../train/trainer.js';
import { evaluateElbo } from '../train/evaluate.js';
import { loadRun } from '../train/run.js';
import { buildInfo, getNumThreads, liveTensors } from '../engine/index.js';
import { evaluate } from '../ood/evaluate.js';
import { writeEvalReport } from '../ood/report.js';
import { evalSet, loadForModel } from './args.js';

export interface DemoOptions {
  out: string;
  retrain: boolean;
  minutes: number;
  limit: number;
  k: number;
  device: string;
  seed: number;
  log?: (s: string) => void;
}

const DEMO_MODEL = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 32, width: 32, sigma2: 'learned' } as const;

/** Where MNIST test comes from: ../shared/data or the cache when present, else a download, else null (and why). */
async function findMnist(log: (s: string) => void): Promise<{ spec: string | null; why: string }> {
  try {
    const { preprocessing } = await loadDataset('mnist:test', { imageSize: 32, limit: 10 });
    return { spec: 'mnist:test', why: `MNIST test from ${preprocessing.source}` };
  } catch (e) {
    log(`MNIST test not found locally (${(e as Error).message.split('\n')[0]}); trying to download it`);
  }
  try {
    await fetchDataset('mnist', { log });
    await loadDataset('mnist:test', { imageSize: 32, limit: 10 });
    return { spec: 'mnist:test', why: 'MNIST test downloaded to the oodgen cache' };
  } catch (e) {
    return {
      spec: null,
      why: `MNIST is not available: not in ../shared/data, not in the cache, and the download failed (${(e as Error).message.split('\n')[0]}). ` +
        'Run `oodgen data fetch mnist` where there is internet (or put the IDX files in $OODGEN_DATA/mnist), then rerun the demo.',
    };
  }
}

function sameModel(dir: string): boolean {
  try {
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { model: Record<string, unknown>; data: { train: string } };
    return Object.entries(DEMO_MODEL).every(([k, v]) => cfg.model[k] === v) && cfg.data.train === 'fashion-mnist:train'
      && existsSync(join(dir, 'model.safetensors'));
  } catch {
    return false;
  }
}

export async function runDemo(o: DemoOptions): Promise<{ resultsMd: string; reused: boolean }> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const t0 = Date.now();

  const mnist = await findMnist(log);
  log(`[demo] ${mnist.why}`);

  const reused = !o.retrain && sameModel(o.out);
  let trainSummary: string;
  if (reused) {
    log(`[demo] reusing the checkpoint in ${o.out} (pass --retrain to train again)`);
    trainSummary = `Reused the checkpoint already in \`${o.out}\` (run \`oodgen demo --retrain\` to train again).`;
  } else {
    log(`[demo] 1/3 training a Gaussian-decoder VAE on Fashion-MNIST for ${o.minutes} minutes (${o.device})`);
    const r = await train({
      out: o.out, model: { ...DEMO_MODEL }, data: 'fashion-mnist:train', timeBudgetMin: o.minutes, batchSize: 64, lr: 1e-3,
      seed: o.seed, device: o.device, progress: 'auto', handleSignals: true, patience: 5, checkpointEvery: 500,
      command: `oodgen demo --minutes ${o.minutes}`,
    });
    trainSummary = `Trained ${r.step} steps (${r.epoch} full epochs) in ${(r.elapsedMs / 60000).toFixed(1)} min, stopped by ${r.stopReason}; ` +
      `validation ELBO at the end ${r.lastVal?.toFixed(1) ?? 'n/a'} nats.`;
  }

  log('[demo] 2/3 test ELBO and bits/dim');
  const { model } = loadRun(o.out, { device: o.device });
  let elboLine: string;
  try {
    const { set } = await loadDataset('fashion-mnist:test', { imageSize: 32, channels: 1, limit: o.limit });
    const e = evaluateElbo(model, set, { batchSize: 100, seed: o.seed, dequantize: true });
    elboLine = `Fashion-MNIST test (${e.n} images): ELBO ${e.elbo.toFixed(1)} nats (dequantized), ` +
      (e.bitsPerDim === null ? `no bits/dim (${e.bitsPerDimNote}).` : `${e.bitsPerDim.toFixed(3)} bits/dim (${e.bitsPerDimNote}).`);
  } finally {
    model.dispose();
  }

  const ood = [...(mnist.spec ? [mnist.spec] : []), 'noise', 'constant'];
  log(`[demo] 3/3 OoD evaluation: fashion-mnist:test vs ${ood.join(', ')} (IWAE K=${o.k}, ${o.limit} images per set)`);
  const ev = await evaluateRun(o, ood, log);

  const fig = (name: string, alt: string) => (existsSync(join(o.out, name)) ? `![${alt}](${name})\n` : '');
  const md = [
    '# oodgen demo: Fashion-MNIST (in-distribution) vs MNIST, noise and constant images',
    '',
    `Model: VAE on the DCGAN architecture (32x32, z = ${DEMO_MODEL.zDim}, width ${DEMO_MODEL.width}) with a Gaussian decoder ` +
      '(learned per-channel variance), trained on Debian\'s Fashion-MNIST (`/usr/share/datasets/fashion-mnist`). ' +
      'Score: -log p(x) (IWAE) and -ELBO; higher = more OoD; OoD is the positive class.',
    '',
    `- ${trainSummary}`,
    `- ${elboLine}`,
    `- ${mnist.why}`,
    `- Total demo time ${((Date.now() - t0) / 60000).toFixed(1)} min; live tensors at the end: ${liveTensors()}.`,
    '',
    '## OoD detection',
    '',
    // The evaluation's own report, its headings nested under this one.
    ev.markdown.trim().replace(/^# .*\n+/, '').replace(/^(#+) /gm, '##$1 '),
    '',
    '## Figures',
    '',
    fig('samples.png', 'random samples (decoder BatchNorm adapted to prior samples)'),
    fig('reconstructions.png', 'reconstructions of Fashion-MNIST validation images'),
    fig('hist-iwae-eval.png', 'histogram of -log p(x) (IWAE), BatchNorm running statistics'),
    fig('roc-iwae-eval.png', 'ROC curves, IWAE, BatchNorm running statistics'),
    fig('hist-iwae-enc.png', 'histogram of -log p(x) (IWAE), encoder BatchNorm on batch statistics'),
    fig('recon-fashion-mnist_test.png', 'Fashion-MNIST test inputs (top) and reconstructions'),
    fig('recon-mnist_test.png', 'MNIST inputs (top) and reconstructions'),
    fig('recon-noise.png', 'uniform noise inputs (top) and reconstructions'),
    `All figures: ${ev.files.filter((f) => f.endsWith('.png')).map((f) => `[${relative(o.out, f)}](${relative(o.out, f)})`).join(', ')}.`,
    '',
    `Reproduce: \`oodgen demo${o.retrain ? ' --retrain' : ''} --minutes ${o.minutes} --limit ${o.limit} --k ${o.k}\`; ` +
      `details in \`results.json\` and \`log.jsonl\`; the checkpoint is \`model.safetensors\` (loads in PyTorch with ` +
      '`bench/pytorch/dcgan_vae.py check-run`).',
    '',
  ].join('\n');
  const path = join(o.out, 'results.md');
  await writeFile(`${path}.tmp`, md);
  await rename(`${path}.tmp`, path);
  log(`[demo] done in ${((Date.now() - t0) / 60000).toFixed(1)} min: ${path}`);
  return { resultsMd: path, reused };
}

/** The OoD evaluation of the demo run (src/ood), its report written into the run folder. */
async function evaluateRun(o: DemoOptions, ood: string[], log: (s: string) => void): Promise<{ markdown: string; files: string[] }> {
  const { model } = loadRun(o.out, { device: o.device });
  try {
    const sets = [];
    for (const spec of ['fashion-mnist:test', ...ood]) sets.push(evalSet(await loadForModel(spec, model, o.limit, o.seed)));
    const r = await evaluate({
      model, detectors: ['iwae', 'elbo'], id: sets[0]!, ood: sets.slice(1), bn: ['eval', 'enc'], detectorOptions: { k: o.k },
      seed: o.seed, bootstrap: 200, log,
    });
    return await writeEvalReport(r, {
      out: o.out, title: o.out, model, sets, recon: 16, limit: o.limit,
      meta: { checkpoint: o.out, which: 'final', device: o.device, threads: getNumThreads(), torch: buildInfo().torchVersion },
    });
  } finally {
    model.dispose();
  }
}

const num = (name: string, integer: boolean) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new OodgenError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got '${v}'`);
  return n;
};

export function registerDemoCommand(program: Command): void {
  program.command('demo')
    .description('train a Gaussian-decoder VAE on Fashion-MNIST and evaluate it against MNIST, noise and constant images (writes runs/demo/)')
    .option('--out <dir>', 'output folder', 'runs/demo')
    .option('--retrain', 'train again even if the folder holds a demo checkpoint')
    .option('--minutes <m>', 'training wall-clock budget', num('--minutes', false), 6)
    .option('--limit <n>', 'test images per set for the OoD evaluation', num('--limit', true), 2000)
    .option('--k <n>', 'IWAE importance samples', num('--k', true), 20)
    .option('--device <d>', 'cpu | cuda', 'cpu')
    .option('--seed <n>', 'seed', (v: string) => Number(v), 0)
    .action(async (opts) => {
      const r = await runDemo({ out: opts.out, retrain: !!opts.retrain, minutes: opts.minutes, limit: opts.limit, k: opts.k, device: opts.device, seed: opts.seed });
      console.log(r.resultsMd);
    });
}
