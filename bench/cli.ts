// `oodgen bench ...`: benchmarks (never timed tests). Results go to stdout; docs/benchmarks.md records them.
// The benchmarks live outside src/ (product code never imports them); bin/oodgen.js adds these commands to the
// CLI through buildProgram's `extra` registrations.
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { OodgenError } from '../src/errors.js';
import { packagePath } from '../src/package-root.js';
import { intArg } from '../src/cli/args.js';
import { benchTrainStep } from './train-step.js';
import { compareTrainStep } from './compare.js';
import { benchScore } from './score.js';
import { benchDetectors, benchRegret } from './detectors.js';
import { benchDdp } from './ddp.js';
import { benchEpoch } from './epoch.js';
import { benchAllreduce } from './allreduce.js';
import { benchFlowStep, flowStepMarkdown } from './flow-step.js';
import { checkMemoryFormat } from '../src/engine/memory-format.js';

const trainStepModel = (v: string): 'reference' | 'categorical' => {
  if (v !== 'reference' && v !== 'categorical') throw new OodgenError(`--model must be reference or categorical, got '${v}'`);
  return v;
};

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new OodgenError(`${name} must be a positive integer, got '${v}'`);
  return n;
};

export function registerBenchCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks: engine training step, scoring throughput, PyTorch comparisons');

  bench.command('train-step')
    .description('median/min/max ms per training step of the reference DCGAN-VAE on random data')
    .option('--device <device>', 'cpu | cuda', 'cpu')
    .option('--steps <n>', 'timed steps', int('--steps'), 20)
    .option('--warmup <n>', 'untimed warm-up steps', int('--warmup'), 3)
    .option('--batch <n>', 'batch size', int('--batch'), 64)
    .option('--channels-last', 'conv weights and batch in channels_last')
    .option('--autocast <dtype>', 'bf16 | fp16 forward passes')
    .option('--cuda-graph', 'capture the step in a CUDA graph, time replays (cuda only)')
    .option('--model <kind>', 'reference (the DCGAN-VAE, width 64, squared error) | categorical (the zoo\'s c10-vae-cat: 256-way categorical decoder, width 32)', 'reference')
    .option('--json', 'print one JSON line')
    .action(async (o) => {
      if (o.autocast !== undefined && o.autocast !== 'bf16' && o.autocast !== 'fp16') throw new OodgenError(`--autocast must be bf16 or fp16, got '${o.autocast}'`);
      const r = benchTrainStep({ device: o.device, steps: o.steps, warmup: o.warmup, batch: o.batch, channelsLast: o.channelsLast, autocast: o.autocast ?? null, cudaGraph: o.cudaGraph, model: trainStepModel(o.model) });
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`oodgen train step (${r.device}, ${r.threads} thread(s), batch ${r.batch}, libtorch ${r.torch}):`);
        console.log(`  median ${r.median_ms.toFixed(2)} ms  min ${r.min_ms.toFixed(2)}  max ${r.max_ms.toFixed(2)}  (${r.steps} steps after ${r.warmup} warm-up)`);
        console.log(`  live tensors before ${r.live_tensors_before}, after ${r.live_tensors_after}`);
      }
    });

  bench.command('flow-step')
    .description('ms per training step of f-VAE or Glow (forward / backward / Adam) beside the same model in PyTorch (the transcriptions in tests/fixtures, oodgen\'s weights)')
    .option('--model <kind>', 'fvae | glow', 'fvae')
    .option('--channels <n>', '1 (Fashion-MNIST) | 3 (CIFAR-10, CelebA)', '1')
    .option('--z-dim <n>', 'f-VAE latent size (default dim(x))', int('--z-dim'))
    .option('--steps <n>', 'timed steps per round', int('--steps'), 5)
    .option('--warmup <n>', 'untimed steps per round', int('--warmup'), 1)
    .option('--rounds <n>', 'alternating rounds (oodgen, PyTorch, ...)', int('--rounds'), 2)
    .option('--batch <n>', 'batch size', int('--batch'), 64)
    .option('--threads <n>', 'threads for both engines', int('--threads'), 1)
    .option('--python <path>', 'Python with torch', process.env.OODGEN_PYTHON ?? '/usr/bin/python3')
    .option('--no-python', 'oodgen alone')
    .option('--layouts <list>', 'coupling-network CPU layouts, alternated step by step: channels_last (the default) and/or contiguous', 'channels_last')
    .option('--json', 'print one JSON line')
    .action(async (o) => {
      if (o.model !== 'fvae' && o.model !== 'glow') throw new OodgenError(`--model must be fvae or glow, got '${o.model}'`);
      const layouts = String(o.layouts).split(',').map((l) => checkMemoryFormat(l));
      if (new Set(layouts).size !== layouts.length) throw new OodgenError(`--layouts lists a layout twice: '${o.layouts}'`);
      if (o.channels !== '1' && o.channels !== '3') throw new OodgenError(`--channels must be 1 or 3, got '${o.channels}'`);
      const r = benchFlowStep({ model: o.model, channels: Number(o.channels) as 1 | 3, zDim: o.zDim, batch: o.batch, steps: o.steps, warmup: o.warmup,
        rounds: o.rounds, threads: o.threads, python: o.python === false ? null : o.python, layouts });
      console.log(o.json ? JSON.stringify(r) : flowStepMarkdown(r));
    });

  bench.command('regret')
    .description('likelihood regret images/s: the faithful per-image loop vs the batched form (stacked encoder copies), random weights')
    .option('--size <s>', 'tiny | demo (the demo\'s 32x32 VAE, z 32, width 32)', 'demo')
    .option('--n <n>', 'images', int('--n'), 16)
    .option('--steps <n>', 'Adam steps per image', int('--steps'), 100)
    .option('--k <n>', 'IWAE samples of the NLLs', int('--k'), 50)
    .option('--group <n>', 'images optimised together in batched mode (default: all n)', int('--group'))
    .option('--json', 'print one JSON line')
    .action(async (o) => {
      const r = benchRegret({ size: o.size, n: o.n, steps: o.steps, k: o.k, group: o.group });
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`likelihood regret, ${r.size} model, ${r.n} images, ${r.steps} steps, K ${r.k} (${r.env.threads} thread(s), load ${r.env.loadavg1.toFixed(2)} on ${r.env.cpus} CPUs):`);
        console.log(`  loop     ${r.loop.images_per_s.toFixed(3)} images/s (${r.loop.seconds.toFixed(1)} s)`);
        console.log(`  batched  ${r.batched.images_per_s.toFixed(3)} images/s (${r.batched.seconds.toFixed(1)} s, groups of ${r.group}); max |difference| ${r.max_abs_diff.toExponential(2)} nats`);
      }
    });

  bench.command('detectors')
    .description('images/s of every registered detector at its defaults on random weights (fitted ones fitted on 200 random images first)')
    .option('--size <s>', 'tiny | demo', 'demo')
    .option('--n <n>', 'images scored', int('--n'), 100)
    .option('--only <names>', 'comma-separated detectors', (v: string) => v.split(','))
    .option('--json', 'print one JSON line')
    .action(async (o) => {
      const r = await benchDetectors({ size: o.size, n: o.n, only: o.only });
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`detector cost, ${r.size} model, ${r.env.threads} thread(s), load ${r.env.loadavg1.toFixed(2)} on ${r.env.cpus} CPUs:`);
        for (const c of r.costs) console.log(`  ${c.detector.padEnd(20)} ${c.images_per_s.toFixed(2).padStart(10)} images/s${c.fit_seconds !== undefined ? `  (fit on 200 images: ${c.fit_seconds.toFixed(1)} s)` : ''}${c.note ? `  [${c.note}]` : ''}`);
      }
    });

  bench.command('memory')
    .description('peak RSS of a short and a long training run in fresh processes (the long one must not grow)')
    .option('--short <n>', 'steps of the short run', int('--short'), 50)
    .option('--long <n>', 'steps of the long run', int('--long'), 400)
    .option('--batch <n>', 'batch size', int('--batch'), 64)
    .option('--json', 'print one JSON line')
    .action(async (o) => {
      const run = (steps: number) => {
        const r = spawnSync(process.execPath, [packagePath('bin', 'oodgen.js'), 'bench', 'train-step',
          '--steps', String(steps), '--warmup', '1', '--batch', String(o.batch), '--json'], { encoding: 'utf8' });
        if (r.status !== 0) throw new OodgenError(`bench train-step failed: ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split('\n').pop()!) as { peak_rss_mb: number; live_tensors_before: number; live_tensors_after: number };
      };
      const a = run(o.short), b = run(o.long);
      const res = {
        short_steps: o.short, long_steps: o.long, short_peak_rss_mb: a.peak_rss_mb, long_peak_rss_mb: b.peak_rss_mb,
        growth_mb: b.peak_rss_mb - a.peak_rss_mb, within_64mb: b.peak_rss_mb <= a.peak_rss_mb + 64,
        live_tensors: [b.live_tensors_before, b.live_tensors_after],
      };
      if (o.json) console.log(JSON.stringify(res));
      else console.log(`peak RSS: ${o.short} steps ${a.peak_rss_mb.toFixed(1)} MB, ${o.long} steps ${b.peak_rss_mb.toFixed(1)} MB ` +
        `(growth ${res.growth_mb.toFixed(1)} MB, ${res.within_64mb ? 'within' : 'OVER'} the 64 MB allowance)`);
    });

  bench.command('compare')
    .description('runs the oodgen and PyTorch training steps side by side (same model, threads, batch) and prints the ratio')
    .option('--device <device>', 'cpu | cuda', 'cpu')
    .option('--steps <n>', 'timed steps per round', int('--steps'), 20)
    .option('--rounds <n>', 'alternating rounds (oodgen, PyTorch, oodgen, ...)', int('--rounds'), 3)
    .option('--batch <n>', 'batch size', int('--batch'), 64)
    .option('--threads <n>', 'threads for both engines', int('--threads'), 1)
    .option('--python <path>', 'Python with torch', process.env.OODGEN_PYTHON ?? '/usr/bin/python3')
    .option('--model <kind>', 'reference | categorical (as bench train-step)', 'reference')
    .option('--json', 'print one JSON line')
    .action(async (o) => {
      const r = compareTrainStep({ ...o, model: trainStepModel(o.model) });
      if (o.json) console.log(JSON.stringify(r));
      else console.log(r.markdown);
    });

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
      const r = await benchScore(o);
      process.stdout.write((o.json ? JSON.stringify(r) : r.markdown) + '\n');
    });

  bench.command('epoch')
    .description('seconds per training epoch through the trainer (no validation, grids or checkpoints); the GPU path\'s goals')
    .option('--model <kind>', 'vae | sintro | ae', 'sintro')
    .option('--data <spec>', 'training data', 'fashion-mnist:train')
    .option('--device <d>', 'cpu | cuda', 'cpu')
    .option('--epochs <n>', 'epochs (the first includes warm-up)', int('--epochs'), 2)
    .option('--batch-size <n>', 'batch size (the authors\' Fashion-MNIST setting)', int('--batch-size'), 128)
    .option('--z-dim <n>', 'latent size', int('--z-dim'), 32)
    .option('--limit <n>', 'use at most n training images', int('--limit'))
    .option('--channels-last', 'channels_last layout')
    .option('--autocast <dtype>', 'bf16 | fp16')
    .option('--cuda-graph', 'CUDA-graph capture of the step')
    .option('--no-resident-data', 'host batches instead of the device-resident set')
    .action(async (o) => {
      if (!['vae', 'sintro', 'ae'].includes(o.model)) throw new OodgenError(`--model must be vae, sintro or ae, got '${o.model}'`);
      if (o.autocast !== undefined && o.autocast !== 'bf16' && o.autocast !== 'fp16') throw new OodgenError(`--autocast must be bf16 or fp16, got '${o.autocast}'`);
      const r = await benchEpoch({ model: o.model, data: o.data, device: o.device, epochs: o.epochs, batchSize: o.batchSize, zDim: o.zDim, limit: o.limit,
        channelsLast: o.channelsLast, autocast: o.autocast ?? null, cudaGraph: o.cudaGraph, ...(o.residentData === false ? { residentData: false } : {}) });
      process.stdout.write(JSON.stringify(r) + '\n');
    });

  bench.command('allreduce')
    .description('ms per c10d all-reduce of the gradients of the bench ddp VAE between 2 ranks (Gloo over loopback): the per-step cost of --nproc')
    .option('--numel <n>', 'float32 values (default: the VAE\'s gradient count)', int('--numel'))
    .option('--iters <n>', 'timed all-reduces (after 3 untimed)', int('--iters'), 30)
    .action(async (o: { numel?: number; iters: number }) => {
      const line = await benchAllreduce({ numel: o.numel, iters: o.iters });
      if (line) process.stdout.write(line + '\n');
    });

  bench.command('ddp')
    .description('data-parallel training throughput (images/s) for 1 and 2 ranks of one thread each (oodgen launch, c10d Gloo)')
    .option('--ranks <list>', 'comma-separated rank counts', '1,2')
    .option('--model <kind>', 'a registered model family (ae | vae | sintro | ...)', 'vae')
    .option('--data <spec>', 'training data', 'fashion-mnist:train')
    .option('--batch-size <n>', 'batch per rank', int('--batch-size'), 64)
    .option('--steps <n>', 'training steps per rank count (the first 5 are warm-up)', int('--steps'), 30)
    .option('--json', 'print one JSON line')
    .action(async (o: { ranks: string; model: string; data: string; batchSize: number; steps: number; json?: boolean }) => {
      const ranks = o.ranks.split(',').map(Number);
      if (ranks.some((n) => !Number.isInteger(n) || n < 1)) throw new OodgenError(`--ranks must list positive integers, got '${o.ranks}'`);
      if (o.steps < 6) throw new OodgenError(`--steps must be an integer >= 6, got '${o.steps}'`);
      const r = await benchDdp({ ranks, model: o.model, data: o.data, batchSize: o.batchSize, steps: o.steps });
      process.stdout.write((o.json ? JSON.stringify(r) : r.markdown) + '\n');
    });
}

export const benchScriptPath = (): string => packagePath('bench', 'pytorch', 'dcgan_vae.py');
export { spawnSync };
