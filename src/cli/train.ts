/**
 * `oodgen train | sample | reconstruct | evaluate-run`: training the model families and looking at what they learned.
 *
 *   oodgen train --model vae --decoder gaussian --data fashion-mnist:train --out runs/fm-vae --time-budget 12
 *   oodgen train --out runs/fm-vae --resume --time-budget 5
 *   oodgen train --restart-from zoo/fm-vae-gauss --out runs/fm-vae-2 --epochs 200
 *   oodgen sample --checkpoint runs/fm-vae --temperature 0.8
 *   oodgen reconstruct --checkpoint runs/fm-vae --data mnist:test
 *   oodgen evaluate-run --checkpoint runs/fm-vae --data fashion-mnist:test
 *
 * Every option is validated (zod) before any data is read or any tensor is made.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { OodgenError } from '../errors.js';
import { modelKinds } from '../models/registry.js';
import { loadDataset } from '../data/registry.js';
import { train } from '../train/trainer.js';
import { withDataParallel } from '../train/ddp.js';
import { loadRun } from '../train/run.js';
import { writeSampleGrid, writeReconstructionGrid, evaluateElbo } from '../train/evaluate.js';
import { sharpnessRatio } from '../eval/sharpness.js';
import { int, num, parseTrainOptions, zodMessage } from './train-options.js';
import { loadForModel } from './args.js';
import { relaunchWithNproc } from './launch.js';
import { checkLaunchDevice, distEnvFromProcess, rankDevice } from '../engine/distributed.js';
import { cuda, resolveDevice } from '../engine/device.js';

export { parseTrainOptions, type TrainCli } from './train-options.js';

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
  sharpness: z.string().min(1).optional(),
  strictShape: z.boolean().optional(),
}).strict();

function parseView(raw: Record<string, unknown>): z.infer<typeof ViewSchema> {
  const r = ViewSchema.safeParse(raw);
  if (!r.success) throw new OodgenError(zodMessage(r.error));
  return r.data;
}

export function registerTrainCommands(program: Command): void {
  program.command('train')
    .description('train an AE, VAE or Soft-IntroVAE on the DCGAN architecture (writes a run folder)')
    .option('--model <kind>', `model family: ${modelKinds().join(' | ')}`)
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
    .option('--restart-from <dir>', 'continue the run of <dir> (a run folder, or a zoo export) as a new run in --out when its optimizer state is lost: same config, from its latest checkpoint and early-stopping state (else from its best weights), Adam moments reset; a data-parallel run needs the --nproc it was trained with')
    .option('--limit <n>', 'use at most n training images')
    .option('--val-fraction <f>', 'held-out validation fraction (default 0.1; 0: no validation, no early stopping, no best.safetensors)')
    .option('--val-limit <n>', 'validation images evaluated per epoch (default 2000)')
    .option('--patience <n>', 'early stopping patience in epochs (default 5; 0 disables)')
    .option('--min-delta <nats>', 'early stopping: an epoch must raise the validation ELBO by more than this many nats per image to reset the patience (default 0)')
    .option('--checkpoint-every <n>', 'steps between checkpoints (default 500)')
    .option('--log-every <n>', 'steps between log lines (default 50)')
    .option('--flow-levels <n>', 'glow / fvae prior flow: levels (glow default 3, or what the image size allows; fvae 3 at z = dim(x) of 32x32, else 1)')
    .option('--flow-steps <n>', 'glow / fvae prior flow: steps of flow per level (glow default 8; fvae 4, or 8 for a vector latent)')
    .option('--flow-width <n>', 'glow / fvae prior flow: coupling network width (glow: --width, default 128; fvae 64)')
    .option('--lu', 'glow / fvae: LU-parameterised 1x1 convolutions (the default)')
    .option('--no-lu', 'glow / fvae: plain 1x1 convolution weights')
    .option('--beta-kl <v>', 'Soft-IntroVAE beta_kl (default 1)')
    .option('--beta-rec <v>', 'Soft-IntroVAE beta_rec (default 1)')
    .option('--beta-neg <v>', 'Soft-IntroVAE beta_neg (default 256)')
    .option('--max-grad-norm <v>', 'Glow: clip the global gradient norm at v before each Adam step (default 0: off)')
    .option('--gamma-r <v>', 'Soft-IntroVAE gamma_r (default 1e-8)')
    .option('--dequantize', 'train on dequantized pixels (default: on for gaussian)')
    .option('--no-dequantize', 'train on the raw pixel values')
    .option('--mutate <mu>', 'likelihood-ratio background model: replace each training value by a uniform 8-bit level with probability mu (Ren et al. 2019; 0.2 is oodgen\'s fixed default, chosen without OoD data)')
    .option('--progress <mode>', 'auto | bar | json | none')
    .option('--nproc <n>', 'data-parallel ranks on this machine (c10d; --batch-size is per rank; see oodgen launch)')
    .option('--resident-data', 'keep the training set on the device, gather batches there (default on a GPU)')
    .option('--no-resident-data', 'gather batches on the host and copy each one to the device')
    .option('--channels-last', 'conv weights and batches in channels_last memory format')
    .option('--autocast <dtype>', 'mixed-precision forward passes: bf16 (CPU or CUDA) or fp16 (CUDA); loss and Adam stay float32')
    .option('--cuda-graph', 'capture the training step in a CUDA graph and replay it (needs --device cuda, one process)')
    .option('--no-grids', 'skip the sample and reconstruction PNGs at the end (a machine without sharp; `oodgen sample` draws them later)')
    .action(async (raw: Record<string, unknown>) => {
      if (raw.cudaGraph && raw.nproc !== undefined && Number(raw.nproc) > 1) {
        throw new OodgenError('--cuda-graph is not supported with --nproc > 1 (the gradient all-reduce is not captured); use one of them');
      }
      if (raw.nproc !== undefined && Number(raw.nproc) > 1 && !process.env.WORLD_SIZE && typeof raw.device === 'string') {
        checkLaunchDevice(raw.device, Number(raw.nproc), cuda.deviceCount(), () => {
          try { resolveDevice(raw.device as string); } catch (e) { return `--nproc ${String(raw.nproc)} --device ${String(raw.device)}: ${(e as Error).message}`; }
          return `--device ${String(raw.device)}: no CUDA device`;
        });
      }
      if (await relaunchWithNproc(raw)) return;
      const opts = await parseTrainOptions(raw);
      // One GPU per rank: --device cuda becomes cuda:LOCAL_RANK in each rank (NCCL is chosen for CUDA tensors).
      const env = distEnvFromProcess();
      if (env && env.worldSize > 1 && opts.device) opts.device = rankDevice(opts.device, env.localRank, cuda.deviceCount());
      const r = await withDataParallel({ device: opts.device }, (ddp) => train({ ...opts, ddp }));
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
    .option('--sharpness <data>', 'also measure the samples\' sharpness against as many real images of <data> (src/eval/sharpness.ts); JSON beside the PNG')
    .option('--device <d>', 'cpu | cuda')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseView(raw);
      if (o.data !== undefined) throw new OodgenError('sample takes no --data');
      const { model } = loadRun(o.checkpoint, { device: o.device, which: o.which });
      const t = o.temperature ?? 1;
      const out = o.out ?? join(o.checkpoint, `samples-t${t}.png`);
      const samples = await writeSampleGrid(model, out, { n: o.n ?? 64, temperature: t, seed: o.seed ?? 0, bnAdapt: o.bnAdapt ?? 2048 });
      const c = model.config;
      model.dispose();
      process.stdout.write(`${out}\n`);
      if (o.sharpness) {
        const { set } = await loadDataset(o.sharpness, { imageSize: c.imageSize, channels: c.channels as 1 | 3, limit: samples.shape[0], seed: o.seed ?? 0 });
        const r = { checkpoint: o.checkpoint, temperature: t, reference: o.sharpness, ...sharpnessRatio({ images: samples.data, shape: samples.shape }, set) };
        const file = out.replace(/\.png$/i, '') + '.sharpness.json';
        writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
        process.stdout.write(JSON.stringify(r) + '\n');
      }
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
      const { model, config } = loadRun(o.checkpoint, { device: o.device, which: o.which });
      const n = o.n ?? 32;
      const { set } = await loadDataset(o.data!, { imageSize: config.model.imageSize, channels: config.model.channels as 1 | 3, limit: Math.max(n, 1) });
      const out = o.out ?? join(o.checkpoint, `reconstructions-${o.data!.replace(/[^A-Za-z0-9_.-]/g, '_')}.png`);
      await writeReconstructionGrid(model, set, out, { n });
      model.dispose();
      process.stdout.write(`${out}\n`);
    });

  program.command('evaluate-run')
    .description('mean ELBO (nats) and bits/dim of the 8-bit image of a trained run on a dataset (a NaN or infinite ELBO is an error naming the image)')
    .requiredOption('--checkpoint <dir>', 'run folder')
    .requiredOption('--data <spec>', 'images, e.g. fashion-mnist:test')
    .option('--which <w>', 'final | best (default final)')
    .option('--limit <n>', 'at most n images')
    .option('--seed <n>', 'seed of the posterior / dequantization noise (default 12345)')
    .option('--device <d>', 'cpu | cuda')
    .option('--json', 'print JSON')
    .option('--strict-shape', 'refuse a dataset whose channels or size differ from the checkpoint (default: convert, and say so)')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseView(raw);
      const { model, config } = loadRun(o.checkpoint, { device: o.device, which: o.which });
      let r: ReturnType<typeof evaluateElbo>;
      let conversions: string[];
      try {
        const d = await loadForModel(o.data!, { config: config.model }, o.limit, 0, { strictShape: o.strictShape, log: (s) => void process.stderr.write(s + '\n') });
        conversions = d.conversions;
        r = evaluateElbo(model, d.set, { seed: o.seed ?? 12345, dequantize: config.data.dequantize });
      } finally {
        model.dispose();
      }
      const res = { checkpoint: o.checkpoint, which: o.which ?? 'final', data: o.data, shapeConversions: conversions, ...r };
      process.stdout.write(o.json ? JSON.stringify(res) + '\n'
        : `${o.data}: ELBO ${r.elbo.toFixed(2)} nats/image${r.dequantized ? ' (dequantized)' : ''} (log p(x|z) ${r.logLik.toFixed(2)}, KL ${r.kl.toFixed(2)}) over ${r.n} images; ` +
          (r.bitsPerDim === null ? `no bits/dim: ${r.bitsPerDimNote}\n` : `${r.bitsPerDim.toFixed(4)} bits/dim of the 8-bit image (ELBO ${r.imageElbo!.toFixed(2)} nats with log P(x8|z))\n`));
    });
}
