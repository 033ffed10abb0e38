// Shared pieces of the field detectors' oracle tests: tiny DCGAN VAEs with non-trivial BatchNorm statistics,
// image-like inputs, and a bridge to tests/fixtures/detector_oracle.py (PyTorch / NumPy / SciPy / scikit-learn).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Generator, tensor, rand, tidy, noGrad, keep, type Tensor } from '../../src/engine/index.js';
import { createModel } from '../../src/models/factory.js';
import type { LatentModel, ModelConfig } from '../../src/models/types.js';
import { saveStateDict, saveTensors } from '../../src/io/checkpoint.js';
import { tempDir } from '../helpers/tmp.js';

export const PY = '/usr/bin/python3';
export const hasTorch = spawnSync(PY, ['-c', 'import torch, scipy, sklearn'], { stdio: 'ignore' }).status === 0;
export const skipNoTorch = hasTorch ? false : 'needs /usr/bin/python3 with torch, scipy and scikit-learn';
const script = new URL('../fixtures/detector_oracle.py', import.meta.url).pathname;

export const tmp = (): string => tempDir('det');

/** A tiny 28x28 gray VAE; a few train-mode forwards move its BatchNorm running statistics away from 0 / 1. */
export function tinyModel(over: Partial<ModelConfig> = {}, seed = 0): LatentModel {
  const config: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 8, ...over };
  const model = createModel(config, { generator: Generator.cpu(seed) });
  model.train();
  noGrad(() => tidy(() => {
    for (let i = 0; i < 3; i++) {
      const x = rand([16, 1, 28, 28], { generator: Generator.cpu(seed + 10 + i) });
      const z = rand([16, config.zDim], { generator: Generator.cpu(seed + 20 + i) });
      model.encode(x);
      model.decode(z);
    }
  }));
  model.eval();
  return model;
}

/** n image-like inputs: a bright blob on black plus a little noise, quantised to 8 bits (B, 1, 28, 28). */
export function blobs(n: number, seed = 1): Tensor {
  let s = seed >>> 0;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const out = new Float32Array(n * 784);
  for (let i = 0; i < n; i++) {
    const cx = 6 + 16 * r(), cy = 6 + 16 * r(), w = 2 + 4 * r();
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
      const v = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * w * w)) + 0.05 * r();
      out[i * 784 + y * 28 + x] = Math.round(Math.min(1, v) * 255) / 255;
    }
  }
  return keep(tensor(out, [n, 1, 28, 28]));
}

/** Writes the model and inputs where the oracle can read them. */
export function exportModel(dir: string, name: string, model: LatentModel): { weights: string; config: ModelConfig } {
  const weights = join(dir, `${name}.safetensors`);
  saveStateDict(weights, model);
  return { weights, config: model.config };
}

export function exportTensors(dir: string, name: string, tensors: Record<string, Tensor>): string {
  const p = join(dir, `${name}.safetensors`);
  saveTensors(p, new Map(Object.entries(tensors)));
  return p;
}

export function oracle<T = Record<string, number[]>>(dir: string, request: Record<string, unknown>): T {
  const req = join(dir, `req-${String(request.cmd)}.json`);
  writeFileSync(req, JSON.stringify(request));
  const r = spawnSync(PY, [script, req], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `oracle ${String(request.cmd)} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { abs?: number; rel?: number }, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    const lim = (tol.abs ?? 0) + (tol.rel ?? 0) * Math.abs(e);
    assert.ok(Math.abs(a - e) <= lim, `${what}[${i}]: oodgen ${a}, oracle ${e} (tolerance ${lim})`);
  }
}

/** Rows of a column dictionary as a row-major number[][] (for the oracle's JSON). */
export function rows(cols: Record<string, ArrayLike<number>>, names: readonly string[]): number[][] {
  const n = cols[names[0]!]!.length;
  return Array.from({ length: n }, (_, i) => names.map((k) => cols[k]![i]!));
}
