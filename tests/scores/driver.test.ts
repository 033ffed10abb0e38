// The batch-scoring driver and BatchNorm modes on a tiny real DCGAN VAE (src/models): batch formation, restored
// model state, mixed batches, AE handling, no leaked tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, liveTensors, rand, tidy } from '../../src/engine/index.js';
import { createModel } from '../../src/models/factory.js';
import { BatchNorm2d } from '../../src/nn/index.js';
import type { ModelConfig } from '../../src/models/types.js';
import {
  createDetector, scoreDataset, scoreMixed, fixedSizeBatches, withBnMode, applyBnMode, scoresFor, ReconstructionDetector,
} from '../../src/scores/index.js';

const CFG: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4, sigma2: 0.1 };

function images(n: number, seed: number, scale = 1) {
  return { images: tidy(() => rand([n, 1, 28, 28], { generator: Generator.cpu(seed) }).toFloat32Array().map((v) => v * scale)), shape: [n, 1, 28, 28] as [number, number, number, number] };
}

function model() {
  const m = createModel(CFG, { generator: Generator.cpu(3) });
  // Non-trivial running statistics, so 'running' and 'batch' differ.
  m.train();
  tidy(() => { for (let i = 0; i < 3; i++) m.forward(rand([16, 1, 28, 28], { generator: Generator.cpu(10 + i) })); });
  m.eval();
  return m;
}

test('fixedSizeBatches: full-size batches, the short tail widened backwards', () => {
  assert.deepEqual(fixedSizeBatches(10, 4), [{ start: 0, keepFrom: 0 }, { start: 4, keepFrom: 0 }, { start: 6, keepFrom: 2 }]);
  assert.deepEqual(fixedSizeBatches(8, 4), [{ start: 0, keepFrom: 0 }, { start: 4, keepFrom: 0 }]);
  assert.deepEqual(fixedSizeBatches(3, 4), [{ start: 0, keepFrom: 0 }]);
});

test('BN eval: scores do not depend on the batch; enc/both: they do; the model is restored afterwards', () => {
  const m = model();
  const data = images(12, 1);
  const start = liveTensors();
  const bnBefore = m.namedBuffers().filter(([k]) => k.includes('running')).map(([, t]) => t.toArray());
  const rec = new ReconstructionDetector(m);
  const a = scoreDataset(rec, data, { batchSize: 12 });
  const b = scoreDataset(rec, data, { batchSize: 5 });
  a.score.forEach((v, i) => assert.ok(Math.abs(v - b.score[i]!) < 1e-4 * Math.max(1, Math.abs(v)), `eval mode, image ${i}`));
  for (const bn of ['enc', 'dec', 'both'] as const) {
    const c = scoreDataset(rec, data, { batchSize: 12, bn });
    const d = scoreDataset(rec, data, { batchSize: 4, bn });
    assert.ok(c.score.some((v, i) => Math.abs(v - d.score[i]!) > 1e-3), `${bn}: batch statistics must make scores batch-dependent`);
    assert.ok(c.score.some((v, i) => Math.abs(v - a.score[i]!) > 1e-3), `${bn} differs from eval`);
  }
  // Running statistics untouched, eval mode and statsMode restored.
  const bnAfter = m.namedBuffers().filter(([k]) => k.includes('running')).map(([, t]) => t.toArray());
  assert.deepEqual(bnAfter, bnBefore);
  assert.equal(m.training, false);
  for (const [, s] of m.namedModules()) if (s instanceof BatchNorm2d) assert.equal(s.statsMode, 'auto');
  assert.equal(liveTensors(), start);
  m.dispose();
});

test('applyBnMode sets encoder/decoder BatchNorms independently and restores training flags', () => {
  const m = model();
  m.train();
  const restore = applyBnMode(m, 'enc');
  const modes = (part: typeof m.encoder) => part.namedModules().map(([, s]) => s).filter((s): s is BatchNorm2d => s instanceof BatchNorm2d).map((s) => s.statsMode);
  assert.deepEqual(modes(m.encoder), ['batch', 'batch']);
  assert.deepEqual(modes(m.decoder), ['running', 'running']);
  assert.equal(m.training, false);
  restore();
  assert.equal(m.training, true);
  assert.deepEqual(modes(m.encoder), ['auto', 'auto']);
  withBnMode(m, 'dec', () => {
    assert.deepEqual(modes(m.encoder), ['running', 'running']);
    assert.deepEqual(modes(m.decoder), ['batch', 'batch']);
  });
  assert.throws(() => withBnMode(m, 'both', () => { throw new Error('boom'); }), /boom/);
  assert.deepEqual(modes(m.decoder), ['auto', 'auto']);
  m.dispose();
});

test('mixed batches: same scores as per-dataset in eval mode, different with batch statistics; results in set order', () => {
  const m = model();
  const id = { ...images(10, 2), name: 'id' };
  const ood = { ...images(7, 3, 0.2), name: 'ood' };
  const start = liveTensors();
  const det = createDetector('elbo', m, { seed: 1 });
  const sepId = scoreDataset(createDetector('rec', m), id, { batchSize: 4 });
  const mixed = scoreMixed(createDetector('rec', m), [id, ood], { batchSize: 4, seed: 5 });
  assert.equal(mixed.length, 2);
  assert.equal(mixed[0]!.score.length, 10);
  assert.equal(mixed[1]!.score.length, 7);
  assert.equal(mixed[0]!.batching, 'mixed');
  mixed[0]!.score.forEach((v, i) => assert.ok(Math.abs(v - sepId.score[i]!) < 1e-3, `eval mode mixed vs separate, image ${i}`));
  const sepB = scoreDataset(createDetector('rec', m), id, { batchSize: 4, bn: 'both' });
  const mixB = scoreMixed(createDetector('rec', m), [id, ood], { batchSize: 4, bn: 'both', seed: 5 });
  assert.ok(mixB[0]!.score.some((v, i) => Math.abs(v - sepB.score[i]!) > 1e-3));
  const r = scoreDataset(det, id, { batchSize: 4 });
  for (const k of ['elbo', 'reconstruction', 'kl']) assert.ok(r.columns[k]!.every(Number.isFinite), k);
  assert.equal(liveTensors(), start);
  m.dispose();
});

test('uint8 images are scaled by 1/255; an AE offers only the reconstruction error', () => {
  const ae = createModel({ ...CFG, kind: 'ae' }, { generator: Generator.cpu(4) });
  ae.eval();
  assert.deepEqual(scoresFor(ae), ['rec']);
  assert.throws(() => createDetector('iwae', ae), /reconstruction error/);
  const f = images(6, 6);
  const u8 = { images: Uint8Array.from(f.images, (v) => Math.round(v * 255)), shape: f.shape };
  const f8 = { images: Float32Array.from(u8.images, (v) => v / 255), shape: f.shape };
  const start = liveTensors();
  const a = scoreDataset(createDetector('rec', ae), u8, { batchSize: 3 });
  const b = scoreDataset(createDetector('rec', ae), f8, { batchSize: 3 });
  a.score.forEach((v, i) => assert.ok(Math.abs(v - b.score[i]!) < 1e-5));
  assert.equal(liveTensors(), start);
  ae.dispose();
});

test('a multi-model detector: the driver puts every model (background, ensemble members) in the row\'s BN mode and restores them', () => {
  const start = liveTensors();
  const a = model(), b = createModel(CFG, { generator: Generator.cpu(4) });
  b.train();
  const encModes = (m: typeof a) => m.encoder.namedModules().map(([, s]) => s).filter((s): s is BatchNorm2d => s instanceof BatchNorm2d).map((s) => s.statsMode);
  for (const name of ['likelihood-ratio', 'waic']) {
    const det = createDetector(name, [a, b], { k: 2 });
    const seen: string[][] = [];
    const inner = det.evaluate.bind(det);
    (det as { evaluate: typeof det.evaluate }).evaluate = (x) => { seen.push([...encModes(a), ...encModes(b), String(b.training)]); return inner(x); };
    const r = scoreDataset(det, images(8, 5), { batchSize: 4, bn: 'enc' });
    assert.equal(r.score.length, 8);
    assert.deepEqual(seen, [['batch', 'batch', 'batch', 'batch', 'false'], ['batch', 'batch', 'batch', 'batch', 'false']], name);
    assert.deepEqual(encModes(b), ['auto', 'auto'], `${name}: restored`);
    assert.equal(b.training, true, `${name}: training flag restored`);
  }
  a.dispose(); b.dispose();
  assert.equal(liveTensors(), start);
});
