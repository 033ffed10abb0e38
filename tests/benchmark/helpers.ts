// A tiny fake zoo for benchmark tests: run folders (config.json + model.safetensors) of untrained 28x28 models
// whose ID data is a synthetic set, so fitting and scoring take milliseconds and need no dataset on disk.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, createModel, saveStateDict, type ModelConfig } from '../../src/index.js';

export const TINY: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4, sigma2: 0.1 };

/** Writes `<zoo>/<name>/` with weights drawn from `seed`. */
export function writeRun(zoo: string, name: string, cfg: ModelConfig, seed: number, train = 'gaussian-noise:64'): string {
  const d = join(zoo, name);
  mkdirSync(d, { recursive: true });
  const m = createModel(cfg, { generator: Generator.cpu(seed) });
  saveStateDict(join(d, 'model.safetensors'), m);
  m.dispose();
  writeFileSync(join(d, 'config.json'), JSON.stringify({
    format: 'oodgen-run/1', model: cfg,
    data: { train, valFraction: 0.25, valLimit: 100, imageSize: cfg.imageSize, channels: cfg.channels, dequantize: true, preprocessing: null, trainCount: 48, valCount: 16 },
    training: { batchSize: 8, lr: 1e-3, betas: [0.9, 0.999], epochs: 1, maxSteps: null, timeBudgetMin: null, checkpointEvery: 100, logEvery: 10, patience: null, hyper: null },
    seed, device: 'cpu', engine: { torch: '1.13.0', oodgen: '0.1.0' }, createdAt: new Date().toISOString(),
  }));
  return d;
}

/** A zoo with a Gaussian VAE, a background model for likelihood-ratio and an AE. */
export function writeZoo(zoo: string): void {
  writeRun(zoo, 'tiny-vae', TINY, 1);
  writeRun(zoo, 'tiny-bg', TINY, 2);
  writeRun(zoo, 'tiny-ae', { ...TINY, kind: 'ae' }, 3);
}

/** Synthetic pairs (no files needed): ID Gaussian noise vs uniform noise and constant images. */
export const SYNTH_PAIRS = [
  { name: 'g-noise', id: 'gaussian-noise:24', ood: 'noise:24' },
  { name: 'g-const', id: 'gaussian-noise:24', ood: 'constant:24' },
];
