// `oodgen bench score`: IWAE (K = 50) throughput of oodgen and PyTorch on the same weights and the same images, and
// whether the two log-likelihood estimates agree within Monte-Carlo error (their noise differs: each engine draws
// its own). PyTorch side: bench/pytorch/latent_vae.py bench-iwae, in its own process with the same thread count.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { OodgenError } from '../src/errors.js';
import { packageRoot } from '../src/package-root.js';
import { Generator, buildInfo, getNumThreads, rand, setNumThreads, tidy } from '../src/engine/index.js';
import { saveStateDict, saveTensors } from '../src/io/checkpoint.js';
import { fromTypedArray } from '../src/engine/index.js';
import type { LatentModel, ModelConfig } from '../src/models/types.js';
import { IwaeDetector, scoreDataset, defaultDecodeBatch } from '../src/scores/index.js';

export interface BenchScoreOptions {
  checkpoint?: string;
  data?: string;
  n?: number;
  k?: number;
  batchSize?: number;
  threads?: number;
  repeats?: number;
  python?: string;
}

/** The default benchmark model: the seed's Fashion-MNIST Gaussian VAE shape (z 32, width 64, 28x28), seeded init. */
export const BENCH_MODEL: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 32, width: 64, sigma2: 1 };

export async function benchScore(o: BenchScoreOptions) {
  const n = o.n ?? 200, k = o.k ?? 50, batch = o.batchSize ?? 100, threads = o.threads ?? getNumThreads(), repeats = o.repeats ?? 1;
  setNumThreads(threads);
  let model: LatentModel;
  let config: ModelConfig;
  if (o.checkpoint) {
    const { loadRun } = await import('../src/train/run.js');
    const r = loadRun(o.checkpoint);
    model = r.model;
    config = r.config.model as ModelConfig;
  } else {
    const { createModel } = await import('../src/models/factory.js');
    config = BENCH_MODEL;
    model = createModel(config, { generator: Generator.cpu(0) });
    model.eval();
  }
  // Inputs: the dataset if present, else seeded uniform images (the timing does not depend on the pixel values).
  let images: Float32Array;
  let source: string;
  const shape: [number, number, number, number] = [n, config.channels, config.imageSize, config.imageSize];
  try {
    const { loadDataset } = await import('../src/data/registry.js');
    const { set } = await loadDataset(o.data ?? 'fashion-mnist:test', { imageSize: config.imageSize, channels: config.channels as 1 | 3, limit: n });
    images = set.images instanceof Float32Array ? set.images : Float32Array.from(set.images, (v) => v / 255);
    shape[0] = set.shape[0];
    source = o.data ?? 'fashion-mnist:test';
  } catch {
    images = tidy(() => rand(shape, { generator: Generator.cpu(1) }).toFloat32Array());
    source = 'uniform noise (dataset not found)';
  }
  const dir = mkdtempSync(join(tmpdir(), 'oodgen-bench-score-'));
  try {
    const weights = join(dir, 'model.safetensors');
    saveStateDict(weights, model);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: config }));
    const xt = fromTypedArray(images, shape);
    saveTensors(join(dir, 'x.safetensors'), new Map([['x', xt]]));
    xt.dispose();
    const decodeBatch = defaultDecodeBatch(model);

    // oodgen: one warm-up batch, then `repeats` timed passes.
    const src = { images, shape };
    scoreDataset(new IwaeDetector(model, { k, seed: 1 }), { images: images.slice(0, batch * shape[1] * shape[2] * shape[3]), shape: [Math.min(batch, shape[0]), shape[1], shape[2], shape[3]] }, { batchSize: batch });
    let best = Infinity;
    let ll: Float32Array = new Float32Array(0);
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      ll = scoreDataset(new IwaeDetector(model, { k, seed: 2 + r }), src, { batchSize: batch }).columns.loglik!;
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    const root = packageRoot();
    const py = spawnSync(o.python ?? '/usr/bin/python3', [
      join(root, 'bench/pytorch/latent_vae.py'), 'bench-iwae', '--weights', weights, '--config', join(dir, 'config.json'),
      '--inputs', join(dir, 'x.safetensors'), '--k', String(k), '--batch', String(batch), '--decode-batch', String(decodeBatch),
      '--threads', String(threads), '--repeats', String(repeats),
    ], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) }, maxBuffer: 64 << 20 });
    if (py.status !== 0) throw new OodgenError(`PyTorch benchmark failed:\n${py.stderr || py.stdout}`);
    const line = py.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    if (!line) throw new OodgenError('PyTorch benchmark printed no JSON');
    const pt = JSON.parse(line) as { images_per_s: number; seconds: number; torch: string; loglik: number[]; threads: number };
    // Agreement: per-image differences of two independent unbiased-in-distribution estimates; mean difference / SE.
    const m = shape[0];
    let sd = 0, sd2 = 0, ours = 0, theirs = 0;
    for (let i = 0; i < m; i++) {
      const d = ll[i]! - pt.loglik[i]!;
      sd += d; sd2 += d * d; ours += ll[i]!; theirs += pt.loglik[i]!;
    }
    const meanDiff = sd / m;
    const se = Math.sqrt(Math.max(0, sd2 / m - meanDiff * meanDiff) / Math.max(1, m - 1));
    const result = {
      oodgen_images_per_s: m / best, pytorch_images_per_s: pt.images_per_s, ratio: (m / best) / pt.images_per_s,
      oodgen_seconds: best, pytorch_seconds: pt.seconds,
      oodgen_loglik_mean: ours / m, pytorch_loglik_mean: theirs / m, mean_difference: meanDiff, difference_se: se,
      z: se > 0 ? meanDiff / se : 0,
      n: m, k, batch, decode_batch: decodeBatch, threads: getNumThreads(), repeats,
      model: o.checkpoint ?? `untrained ${config.kind}/${config.decoder} z${config.zDim} w${config.width} ${config.channels}x${config.imageSize}x${config.imageSize} (seed 0)`,
      inputs: source, torch_oodgen: buildInfo().torchVersion, torch_pytorch: pt.torch,
      machine: `${os.cpus()[0]?.model ?? 'unknown cpu'} x${os.cpus().length}`, date: new Date().toISOString().slice(0, 10),
      markdown: '',
    };
    result.markdown = [
      `| engine | IWAE K=${k} images/s | mean log p(x) (nats) |`,
      `|---|---:|---:|`,
      `| oodgen (libtorch ${result.torch_oodgen}) | ${result.oodgen_images_per_s.toFixed(1)} | ${result.oodgen_loglik_mean.toFixed(3)} |`,
      `| PyTorch ${result.torch_pytorch} | ${result.pytorch_images_per_s.toFixed(1)} | ${result.pytorch_loglik_mean.toFixed(3)} |`,
      '',
      `ratio oodgen/PyTorch = ${result.ratio.toFixed(3)}; mean per-image difference ${meanDiff.toFixed(4)} nats, SE ${se.toFixed(4)} (z = ${result.z.toFixed(2)}: ` +
        `${Math.abs(result.z) < 3 ? 'agree within Monte-Carlo error' : 'DISAGREE beyond Monte-Carlo error'}).`,
      `${m} images of ${source}, model ${result.model}, batch ${batch}, ${threads} thread(s), decode batch ${decodeBatch}, best of ${repeats}, ${result.machine}, ${result.date}.`,
    ].join('\n');
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    model.dispose();
  }
}
