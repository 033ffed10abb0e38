/**
 * `oodgen train | sample | reconstruct | evaluate-run`: training the model families and looking at what they learned.
 *
 *   oodgen train --model vae --decoder gaussian --data fashion-mnist:train --out runs/fm-vae --time-budget 12
 *   oodgen train --out runs/fm-vae --resume --time-budget 5
 *   oodgen sample --checkpoint runs/fm-vae --temperature 0.8
 *   oodgen reconstruct --checkpoint runs/fm-vae --data mnist:test
 *   oodgen evaluate-run --checkpoint runs/fm-vae --data fashion-mnist:test
 *
 * Every option is validated (zod) before any data is read or any tensor is made.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { OodgenError } from '../errors.js';

const COLOUR = ['cifar10', 'cifar-10', 'svhn', 'celeba', 'lsun'];
const num = (what: string) => z.string().transform((s, ctx) => {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${what} must be a number, got '${s}'` });
    return z.NEVER;
  }
  return v;
});
const int = (what: string, min = 1) => num(what).refine((v) => !Number.isFinite(v) || (Number.isInteger(v) && v >= min), { message: `${what} must be an integer >= ${min}` });
const pos = (what: string) => num(what).refine((v) => !Number.isFinite(v) || v > 0, { message: `${what} must be > 0` });

const TrainCliSchema = z.object({
  model: z.enum(['ae', 'vae', 'sintro'], { errorMap: () => ({ message: "--model must be ae, vae or sintro" }) }).optional(),
  decoder: z.enum(['gaussian', 'categorical', 'bernoulli'], { errorMap: () => ({ message: '--decoder must be gaussian, categorical or bernoulli' }) }).optional(),
  data: z.string().min(1).optional(),
  out: z.string().min(1, '--out is required'),
  zDim: int('--z-dim').optional(),
  width: int('--width').optional(),
  imageSize: z.enum(['32', '28'], { errorMap: () => ({ message: '--image-size must be 32 or 28' }) }).transform(Number).optional(),
  channels: z.enum(['1', '3'], { errorMap: () => ({ message: '--channels must be 1 or 3' }) }).transform(Number).optional(),
  sigma2: z.union([z.literal('learned'), pos('--sigma2')]).optional(),
  beta: num('--beta').refine((v) => v >= 0, '--beta must be >= 0').optional(),
  batchSize: int('--batch-size').optional(),
  epochs: int('--epochs').optional(),
  maxSteps: int('--max-steps').optional(),
  timeBudget: pos('--time-budget').optional(),
  lr: pos('--lr').optional(),
  seed: int('--seed', 0).optional(),
  device: z.string().regex(/^(cpu|cuda(:\d+)?)$/, '--device must be cpu, cuda or cuda:N').optional(),
  resume: z.boolean().optional(),
  limit: int('--limit').optional(),
  valFraction: num('--val-fraction').refine((v) => v >= 0 && v < 0.9, '--val-fraction must be in [0, 0.9)').optional(),
  valLimit: int('--val-limit').optional(),
  patience: int('--patience', 0).optional(),
  checkpointEvery: int('--checkpoint-every').optional(),
  logEvery: int('--log-every').optional(),
  betaKl: num('--beta-kl').optional(),
  betaRec: num('--beta-rec').optional(),
  betaNeg: num('--beta-neg').optional(),
  gammaR: num('--gamma-r').optional(),
  dequantize: z.boolean().optional(),
  progress: z.enum(['auto', 'bar', 'json', 'none']).optional(),
}).strict();

export type TrainCli = z.infer<typeof TrainCliSchema>;

function zodMessage(e: z.ZodError): string {
  return e.issues.map((i) => i.message + (i.path.length && !i.message.includes('--') ? ` (--${String(i.path[0]).replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())})` : '')).join('; ');
}

/** Validates `oodgen train` options and returns the trainer's options; throws OodgenError before any work. */
export async function parseTrainOptions(raw: Record<string, unknown>, argv: string[] = process.argv): Promise<import('../train/trainer.js').TrainOptions> {
  const r = TrainCliSchema.safeParse(raw);
  if (!r.success) throw new OodgenError(zodMessage(r.error));
  const o = r.data;
  if (o.device !== undefined && o.device !== 'cpu') {
    const { resolveDevice } = await import('../engine/device.js');
    try {
      resolveDevice(o.device);
    } catch (e) {
      throw new OodgenError(`--device ${o.device}: ${(e as Error).message}`);
    }
  }
  const common = {
    out: o.out,
    epochs: o.epochs, maxSteps: o.maxSteps, timeBudgetMin: o.timeBudget, device: o.device,
    progress: o.progress ?? 'auto', handleSignals: true, command: ['oodgen', ...argv.slice(2)].join(' '),
    ...(o.patience !== undefined ? { patience: o.patience === 0 ? null : o.patience } : {}),
  };
  if (o.resume) {
    const fixed = (['model', 'decoder', 'data', 'zDim', 'width', 'imageSize', 'channels', 'sigma2', 'beta', 'batchSize', 'lr', 'seed', 'limit',
      'valFraction', 'valLimit', 'betaKl', 'betaRec', 'betaNeg', 'gammaR', 'dequantize', 'checkpointEvery', 'logEvery'] as const)
      .filter((k) => o[k] !== undefined);
    if (fixed.length) {
      throw new OodgenError(`--resume continues the run in ${o.out} with its own config.json; drop ${fixed.map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(', ')} (only --epochs, --max-steps, --time-budget, --patience, --device, --progress may change)`);
    }
    return { ...common, resume: true };
  }
  if (!o.model) throw new OodgenError('--model is required (ae, vae or sintro)');
  if (!o.data) throw new OodgenError('--data is required (e.g. fashion-mnist:train)');
  if (o.epochs === undefined && o.maxSteps === undefined && o.timeBudget === undefined) {
    throw new OodgenError('give a training length: --epochs, --max-steps and/or --time-budget (minutes)');
  }
  const decoder = o.decoder ?? 'gaussian';
  if (o.model === 'ae' && decoder === 'categorical') throw new OodgenError('--model ae cannot have --decoder categorical (an AE has no 256-way decoder; use gaussian or bernoulli)');
  if (o.model === 'sintro' && decoder !== 'gaussian') throw new OodgenError('--model sintro trains with an SSE (gaussian) decoder; --decoder must be gaussian');
  if (o.sigma2 !== undefined && decoder !== 'gaussian') throw new OodgenError(`--sigma2 applies to the gaussian decoder only (decoder is ${decoder})`);
  const sintroFlags = (['betaKl', 'betaRec', 'betaNeg', 'gammaR'] as const).filter((k) => o[k] !== undefined);
  if (o.model !== 'sintro' && sintroFlags.length) throw new OodgenError(`--beta-kl/--beta-rec/--beta-neg/--gamma-r are Soft-IntroVAE options (--model sintro)`);
  if (o.model === 'sintro' && o.beta !== undefined) throw new OodgenError('--beta is the VAE KL weight; for --model sintro use --beta-kl');
  for (const k of sintroFlags) if (!(o[k]! >= 0)) throw new OodgenError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be >= 0`);

  // Dataset name and channels, without reading images.
  const { parseSpec, DATASETS } = await import('../data/registry.js');
  const spec = parseSpec(o.data);
  const colour = spec.path === undefined && COLOUR.includes(spec.name);
  const imageSize = (o.imageSize ?? 32) as 32 | 28;
  if (imageSize === 28 && colour && o.channels === undefined) {
    throw new OodgenError(`--image-size 28 with the colour dataset ${spec.name}: say --channels 3 (colour at 28x28) or --channels 1 (gray) explicitly`);
  }
  let channels = o.channels;
  if (channels === undefined) {
    if (spec.path === undefined && DATASETS[spec.name]) channels = colour ? 3 : 1;
    else if (spec.path === undefined) channels = 3; // synthetic sets
    else throw new OodgenError(`--data ${o.data} is a path: say --channels 1 or 3`);
  }
  const { sintroDefaults } = await import('../models/sintro.js');
  const sd = o.model === 'sintro' ? sintroDefaults(spec.name) : null;
  const model = {
    kind: o.model, decoder, channels, imageSize, zDim: o.zDim ?? sd?.zDim ?? 32, width: o.width ?? 64,
    ...(o.sigma2 !== undefined ? { sigma2: o.sigma2 as number | 'learned' } : {}),
    ...(o.beta !== undefined ? { beta: o.beta } : {}),
  };
  return {
    ...common,
    model,
    data: o.data,
    limit: o.limit,
    valFraction: o.valFraction,
    valLimit: o.valLimit,
    dequantize: o.dequantize,
    batchSize: o.batchSize ?? sd?.batchSize ?? 64,
    lr: o.lr ?? sd?.lr ?? 1e-3,
    seed: o.seed ?? 0,
    checkpointEvery: o.checkpointEvery,
    logEvery: o.logEvery,
    ...(sd ? { sintro: { betaKl: o.betaKl ?? sd.betaKl, betaRec: o.betaRec ?? sd.betaRec, betaNeg: o.betaNeg ?? sd.betaNeg, gammaR: o.gammaR ?? sd.gammaR } } : {}),
  };
}

const ViewSchema = z.object({
  checkpoint: z.string().min(1, '--checkpoint is required'),
  which: z.enum(['final', 'best']).optional(),
  n: int('--n').optional(),
  temperature: num('--temperature').refine((v) => v >= 0, '--temperature must be >= 0').optional(),
  bnAdapt: int('--bn-adapt', 0).optional(),
  seed: int('--seed', 0).optional(),
  out: z.string().optional(),
  data: z.string().optional(),
  device: z.string().regex(/^(cpu|cuda(:\d+)?)$/, '--device must be cpu, cuda or cuda:N').optional(),
  limit: int('--limit').optional(),
  json: z.boolean().optional(),
}).strict();

function parseView(raw: Record<string, unknown>): z.infer<typeof ViewSchema> {
  const r = ViewSchema.safeParse(raw);
  if (!r.success) throw new OodgenError(zodMessage(r.error));
  return r.data;
}

export function registerTrainCommands(program: Command): void {
  program.command('train')
    .description('train an AE, VAE or Soft-IntroVAE on the DCGAN architecture (writes a run folder)')
    .option('--model <kind>', 'ae | vae | sintro')
    .option('--decoder <type>', 'gaussian | categorical | bernoulli (default gaussian)')
    .option('--data <spec>', 'training data, e.g. fashion-mnist:train')
    .requiredOption('--out <dir>', 'run folder, e.g. runs/fm-vae')
    .option('--z-dim <n>', 'latent size (default 32; sintro: 32 for MNIST-like, 128 for colour)')
    .option('--width <n>', 'DCGAN width (default 64)')
    .option('--image-size <n>', '32 or 28 (default 32)')
    .option('--channels <n>', '1 or 3 (default: the dataset\'s own)')
    .option('--sigma2 <v>', 'gaussian decoder variance: a number or "learned" (default 1; sintro 0.5)')
    .option('--beta <v>', 'KL weight (beta-VAE; default 1)')
    .option('--batch-size <n>', 'batch size (default 64; sintro: 128 MNIST-like, 32 colour)')
    .option('--epochs <n>', 'epochs to train')
    .option('--max-steps <n>', 'total optimisation steps')
    .option('--time-budget <min>', 'wall-clock minutes for this invocation')
    .option('--lr <v>', 'Adam learning rate (default 1e-3; sintro 2e-4)')
    .option('--seed <n>', 'seed (default 0)')
    .option('--device <d>', 'cpu | cuda | cuda:N')
    .option('--resume', 'continue the run in --out exactly')
    .option('--limit <n>', 'use at most n training images')
    .option('--val-fraction <f>', 'held-out validation fraction (default 0.1)')
    .option('--val-limit <n>', 'validation images evaluated per epoch (default 2000)')
    .option('--patience <n>', 'early stopping patience in epochs (default 5; 0 disables)')
    .option('--checkpoint-every <n>', 'steps between checkpoints (default 500)')
    .option('--log-every <n>', 'steps between log lines (default 50)')
    .option('--beta-kl <v>', 'Soft-IntroVAE beta_kl (default 1)')
    .option('--beta-rec <v>', 'Soft-IntroVAE beta_rec (default 1)')
    .option('--beta-neg <v>', 'Soft-IntroVAE beta_neg (default 256)')
    .option('--gamma-r <v>', 'Soft-IntroVAE gamma_r (default 1e-8)')
    .option('--dequantize', 'train on dequantized pixels (default: on for gaussian)')
    .option('--no-dequantize', 'train on the raw pixel values')
    .option('--progress <mode>', 'auto | bar | json | none')
    .option('--nproc <n>', 'data-parallel ranks on this machine (c10d; --batch-size is per rank; see oodgen launch)')
    .action(async (raw: Record<string, unknown>) => {
      if (await (await import('./launch.js')).relaunchWithNproc(raw)) return;
      const opts = await parseTrainOptions(raw);
      const { train } = await import('../train/trainer.js');
      const r = await (await import('../train/ddp.js')).withDataParallel({ device: opts.device }, (ddp) => train({ ...opts, ddp }));
      process.stdout.write(JSON.stringify({ out: r.out, step: r.step, epoch: r.epoch, stopReason: r.stopReason, bestValElbo: r.bestVal, lastValElbo: r.lastVal, elapsedS: r.elapsedMs / 1000 }) + '\n');
      if (r.stopReason.startsWith('interrupted')) process.exitCode = 130;
    });

  program.command('sample')
    .description('random samples of a trained run (decoder BN adapted to prior samples), as a PNG grid')
    .requiredOption('--checkpoint <dir>', 'run folder')
    .option('--which <w>', 'final | best (default final)')
    .option('--n <n>', 'number of samples (default 64)')
    .option('--temperature <t>', 'latent temperature (default 1)')
    .option('--bn-adapt <n>', 'prior samples for decoder BN adaptation (default 2048; 0: off)')
    .option('--seed <n>', 'seed (default 0)')
    .option('--out <png>', 'output PNG (default <checkpoint>/samples-t<T>.png)')
    .option('--device <d>', 'cpu | cuda')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseView(raw);
      if (o.data !== undefined) throw new OodgenError('sample takes no --data');
      const { loadRun } = await import('../train/run.js');
      const { writeSampleGrid } = await import('../train/evaluate.js');
      const { model } = loadRun(o.checkpoint, { device: o.device, which: o.which });
      const t = o.temperature ?? 1;
      const out = o.out ?? join(o.checkpoint, `samples-t${t}.png`);
      await writeSampleGrid(model, out, { n: o.n ?? 64, temperature: t, seed: o.seed ?? 0, bnAdapt: o.bnAdapt ?? 2048 });
      model.dispose();
      process.stdout.write(`${out}\n`);
    });

  program.command('reconstruct')
    .description('reconstructions of images by a trained run (rows: originals, reconstructions), as a PNG grid')
    .requiredOption('--checkpoint <dir>', 'run folder')
    .requiredOption('--data <spec>', 'images, e.g. mnist:test')
    .option('--which <w>', 'final | best (default final)')
    .option('--n <n>', 'number of images (default 32)')
    .option('--out <png>', 'output PNG (default <checkpoint>/reconstructions-<data>.png)')
    .option('--device <d>', 'cpu | cuda')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseView(raw);
      const { loadRun } = await import('../train/run.js');
      const { writeReconstructionGrid } = await import('../train/evaluate.js');
      const { loadDataset } = await import('../data/registry.js');
      const { model, config } = loadRun(o.checkpoint, { device: o.device, which: o.which });
      const n = o.n ?? 32;
      const { set } = await loadDataset(o.data!, { imageSize: config.model.imageSize, channels: config.model.channels as 1 | 3, limit: Math.max(n, 1) });
      const out = o.out ?? join(o.checkpoint, `reconstructions-${o.data!.replace(/[^A-Za-z0-9_.-]/g, '_')}.png`);
      await writeReconstructionGrid(model, set, out, { n });
      model.dispose();
      process.stdout.write(`${out}\n`);
    });

  program.command('evaluate-run')
    .description('mean ELBO (nats) and bits/dim of a trained run on a dataset')
    .requiredOption('--checkpoint <dir>', 'run folder')
    .requiredOption('--data <spec>', 'images, e.g. fashion-mnist:test')
    .option('--which <w>', 'final | best (default final)')
    .option('--limit <n>', 'at most n images')
    .option('--seed <n>', 'seed of the posterior / dequantization noise (default 12345)')
    .option('--device <d>', 'cpu | cuda')
    .option('--json', 'print JSON')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseView(raw);
      const { loadRun } = await import('../train/run.js');
      const { evaluateElbo } = await import('../train/evaluate.js');
      const { loadDataset } = await import('../data/registry.js');
      const { model, config } = loadRun(o.checkpoint, { device: o.device, which: o.which });
      const { set } = await loadDataset(o.data!, { imageSize: config.model.imageSize, channels: config.model.channels as 1 | 3, limit: o.limit });
      const r = evaluateElbo(model, set, { seed: o.seed ?? 12345, dequantize: config.data.dequantize });
      model.dispose();
      const res = { checkpoint: o.checkpoint, which: o.which ?? 'final', data: o.data, ...r };
      process.stdout.write(o.json ? JSON.stringify(res) + '\n'
        : `${o.data}: ELBO ${r.elbo.toFixed(2)} nats/image (log p(x|z) ${r.logLik.toFixed(2)}, KL ${r.kl.toFixed(2)}), ${r.bitsPerDim.toFixed(4)} bits/dim over ${r.n} images${r.dequantized ? ' (dequantized)' : ''}\n`);
    });
}
