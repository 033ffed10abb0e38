// `oodgen bench epoch`: wall-clock seconds per training epoch through the real trainer (train/trainer.ts), for the
// GPU training path's goals (issue 15 item 5: Soft-IntroVAE <= 5 s and the Gaussian VAE <= 1 s per Fashion-MNIST
// epoch on one H100/H200 with the authors' settings z 32, batch 128, beta_neg 256). No validation split, no grids,
// no checkpoints inside the timed epochs; an epoch's time is the difference of the trainer's elapsed clock at
// consecutive epoch ends (the first epoch includes warm-up: cuDNN autotuning, CUDA-graph capture).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/train/trainer.js';
import { buildInfo, cuda } from '../src/engine/index.js';
import { OodgenError } from '../src/errors.js';

export interface EpochBenchOptions {
  model: 'vae' | 'sintro' | 'ae';
  data: string;
  device: string;
  epochs: number;
  batchSize: number;
  zDim: number;
  limit?: number;
  channelsLast?: boolean;
  autocast?: 'bf16' | 'fp16' | null;
  cudaGraph?: boolean;
  residentData?: boolean;
}

export async function benchEpoch(o: EpochBenchOptions) {
  if (o.epochs < 1) throw new OodgenError('bench epoch: --epochs must be >= 1');
  const dir = mkdtempSync(join(tmpdir(), 'oodgen-bench-epoch-'));
  try {
    const out = join(dir, 'run');
    const r = await train({
      out, model: { kind: o.model, decoder: 'gaussian', channels: 1, imageSize: 32, zDim: o.zDim, width: 64 },
      data: o.data, ...(o.limit ? { limit: o.limit } : {}), valFraction: 0, batchSize: o.batchSize, epochs: o.epochs,
      // beta_neg 256 etc. come from the family's Fashion-MNIST defaults (models/registry.ts).
      progress: 'none', grids: false, checkpointEvery: 1e9, logEvery: 1e9, device: o.device, seed: 0,
      channelsLast: o.channelsLast, autocast: o.autocast ?? null, cudaGraph: o.cudaGraph,
      ...(o.residentData !== undefined ? { residentData: o.residentData } : {}),
    });
    const ends = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event?: string; elapsedS?: number })
      .filter((l) => l.event === 'epoch').map((l) => l.elapsedS!);
    const epochS = ends.map((e, i) => e - (i ? ends[i - 1]! : 0));
    const trainCount = r.config.data.trainCount;
    const steps = Math.floor(trainCount / o.batchSize);
    const last = epochS[epochS.length - 1]!;
    return {
      model: o.model, data: o.data, images: trainCount, steps_per_epoch: steps, batch: o.batchSize, z: o.zDim,
      hyper: r.config.training.hyper, device: r.config.device, speed: r.config.training.speed,
      epoch_s: epochS, best_epoch_s: Math.min(...(epochS.length > 1 ? epochS.slice(1) : epochS)), last_epoch_s: last,
      ms_per_step: (last * 1000) / steps, images_per_s: trainCount / last,
      torch: buildInfo().torchVersion, gpus: cuda.deviceCount(), engine: 'oodgen', date: new Date().toISOString(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
