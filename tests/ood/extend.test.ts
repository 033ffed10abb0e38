// Extending oodgen from outside src/: a detector registered through the public API (src/index.ts, the package's
// entry) is evaluated by `evaluate` and by the CLI's `oodgen eval --scores NAME`, exactly like a built-in one.
// This is the README's "Extending oodgen" example.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Generator, createModel, evaluate, liveTensors, loadDataset, oodMetrics, registerDetector, saveStateDict, unregisterDetector,
  type DetectorSpec, type ModelConfig, type Tensor,
} from '../../src/index.js';
import { buildProgram } from '../../src/cli/main.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('extend');
after(() => rmSync(dir, { recursive: true, force: true }));

// The README example: mean squared brightness of an image, higher = more OoD. Needs nothing from the model.
const brightness: DetectorSpec = {
  name: 'brightness',
  title: 'mean squared pixel value',
  reference: 'README "Extending oodgen" example',
  granularity: 'sample',
  needs: [],
  columns: { brightness: 'mean of x^2 over pixels' },
  axis: 'mean x^2',
  units: 'pixel value squared',
  create: () => ({
    name: 'brightness',
    description: 'mean of x^2 over the pixels of each image',
    evaluate(x: Tensor) {
      const b = x.shape[0]!;
      const score = x.square().reshape([b, -1]).mean(1).toFloat32Array(); // (B,)
      return { score, columns: { brightness: score } };
    },
    score(x: Tensor) { return this.evaluate(x).score; },
    settings: () => ({}),
  }),
};

const CFG: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4, sigma2: 0.1 };

function makeRun(): string {
  const runDir = join(dir, 'run');
  mkdirSync(runDir, { recursive: true });
  const m = createModel(CFG, { generator: Generator.cpu(7) });
  saveStateDict(join(runDir, 'model.safetensors'), m);
  m.dispose();
  writeFileSync(join(runDir, 'config.json'), JSON.stringify({
    format: 'oodgen-run/1', model: CFG,
    data: { train: 'noise:64', valFraction: 0.1, valLimit: 100, imageSize: 28, channels: 1, dequantize: true, preprocessing: null, trainCount: 58, valCount: 6 },
    training: { batchSize: 8, lr: 1e-3, betas: [0.9, 0.999], epochs: 1, maxSteps: null, timeBudgetMin: null, checkpointEvery: 100, logEvery: 10, patience: null, hyper: null },
    seed: 0, device: 'cpu', engine: { torch: '1.13.0', oodgen: '0.1.0' }, createdAt: new Date().toISOString(),
  }));
  return runDir;
}

/** Oracle: mean of x^2 per image, in float64 from the raw arrays. */
function meanSquare(images: Uint8Array | Float32Array, n: number, d: number): number[] {
  const scale = images instanceof Uint8Array ? 1 / 255 : 1;
  return Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += (images[i * d + j]! * scale) ** 2;
    return s / d;
  });
}

test('a detector registered through the public API runs in evaluate() and in `oodgen eval`', async () => {
  registerDetector(brightness);
  try {
    const start = liveTensors();
    const m = createModel(CFG, { generator: Generator.cpu(7) });
    const id = (await loadDataset('gaussian-noise:30', { imageSize: 28, channels: 1 })).set;
    const ood = (await loadDataset('noise:20', { imageSize: 28, channels: 1 })).set;
    const r = await evaluate({ model: m, detectors: ['brightness', 'rec'], id, ood: [ood], bn: ['eval'], batchSize: 8, bootstrap: 0 });
    m.dispose();
    assert.deepEqual(r.scores, ['brightness', 'rec']);
    const idS = meanSquare(id.images, 30, 784), oodS = meanSquare(ood.images, 20, 784);
    r.raw.brightness!.eval![0]!.score.forEach((v, i) => assert.ok(Math.abs(v - idS[i]!) < 1e-5, `id ${i}`));
    r.raw.brightness!.eval![1]!.score.forEach((v, i) => assert.ok(Math.abs(v - oodS[i]!) < 1e-5, `ood ${i}`));
    const row = r.rows.find((x) => x.score === 'brightness')!;
    assert.equal(row.AUROC, oodMetrics(idS, oodS).AUROC);
    assert.equal(row.meanOf, 'brightness');
    assert.equal(liveTensors(), start);

    // The CLI finds it by name: --scores validates against the registry.
    const runDir = makeRun();
    const out = join(dir, 'eval');
    const printed: string[] = [];
    const program = await buildProgram();
    const evalCmd = program.commands.find((c) => c.name() === 'eval')!;
    // Capture the printed Markdown instead of writing to stdout.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => { printed.push(String(s)); return true; }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'oodgen', 'eval', '--checkpoint', runDir, '--id', 'gaussian-noise:30', '--ood', 'noise:20',
        '--scores', 'brightness', '--bn', 'eval', '--bootstrap', '0', '--no-charts', '--out', out]);
    } finally {
      process.stdout.write = write;
    }
    assert.ok(evalCmd);
    assert.match(printed.join(''), /\| brightness +\| eval +\| noise:20 +\|/);
    const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.equal(j.rows[0].score, 'brightness');
    assert.ok(Math.abs(j.rows[0].AUROC - oodMetrics(idS, oodS).AUROC) < 1e-12);
    assert.ok(existsSync(join(out, 'scores.json')));
    // `oodgen detectors` lists it with its reference.
    const listed: string[] = [];
    process.stdout.write = ((s: string) => { listed.push(String(s)); return true; }) as typeof process.stdout.write;
    try {
      await (await buildProgram()).parseAsync(['node', 'oodgen', 'detectors']);
    } finally {
      process.stdout.write = write;
    }
    assert.match(listed.join(''), /brightness: mean squared pixel value\n {2}README "Extending oodgen" example/);
  } finally {
    unregisterDetector('brightness');
  }
  await assert.rejects((await buildProgram()).parseAsync(['node', 'oodgen', 'eval', '--checkpoint', join(dir, 'run'), '--id', 'noise:4', '--ood', 'noise:4', '--scores', 'brightness', '--out', join(dir, 'x')]), /unknown score 'brightness'/);
});
