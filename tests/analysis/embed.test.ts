import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embedSets, knnPurity, stratifiedSubsample, tsne, umap } from '../../src/analysis/embed.js';
import { vstack } from '../../src/analysis/matrix.js';
import { OodgenError } from '../../src/errors.js';
import { blob } from './synth.js';

const d = 32;
const A = blob(150, d, 1, 0), B = blob(150, d, 2, 12); // 12 sigma apart
const labels = Int32Array.from({ length: 300 }, (_, i) => (i < 150 ? 0 : 1));

test('t-SNE keeps two well-separated blobs apart (k-NN purity > 0.95), deterministic per seed', () => {
  const X = vstack([A, B]);
  const Y = tsne(X, 300, d, { seed: 3, iterations: 400 });
  assert.equal(Y.length, 600);
  assert.ok(Y.every(Number.isFinite));
  const purity = knnPurity(Y, 2, labels, 10);
  assert.ok(purity > 0.95, `t-SNE purity ${purity}`);
  assert.deepEqual(tsne(X, 300, d, { seed: 3, iterations: 400 }), Y);
});

test('UMAP keeps two well-separated blobs apart (k-NN purity > 0.95), deterministic per seed', () => {
  const X = vstack([A, B]);
  const Y = umap(X, 300, d, { seed: 3, nEpochs: 200 });
  assert.equal(Y.length, 600);
  assert.ok(Y.every(Number.isFinite));
  const purity = knnPurity(Y, 2, labels, 10);
  assert.ok(purity > 0.95, `UMAP purity ${purity}`);
  assert.deepEqual(umap(X, 300, d, { seed: 3, nEpochs: 200 }), Y);
});

test('stratified subsample: proportional quotas, sorted, seeded, keeps small sets', () => {
  const picks = stratifiedSubsample([1000, 3000, 2], 400, 1);
  assert.deepEqual(picks.map((p) => p.length), [100, 299, 1]);
  for (const p of picks) for (let i = 1; i < p.length; i++) assert.ok(p[i] > p[i - 1]);
  assert.deepEqual(stratifiedSubsample([1000, 3000, 2], 400, 1), picks);
  assert.deepEqual(stratifiedSubsample([3, 4], 10).map((p) => Array.from(p)), [[0, 1, 2], [0, 1, 2, 3]]);
});

test('embedSets: subsamples, records provenance, and embeds', () => {
  const e = embedSets([{ label: 'ID', X: A }, { label: 'OoD', X: B }], d, { method: 'tsne', maxPoints: 100, seed: 2, tsne: { iterations: 300 } });
  assert.equal(e.coords.length, 200);
  assert.deepEqual(e.labels, ['ID', 'OoD']);
  assert.equal(e.set.filter((s) => s === 0).length, 50);
  assert.ok(knnPurity(e.coords, 2, e.set, 5) > 0.95);
  // provenance: the first point is row e.row[0] of set e.set[0]
  assert.ok(e.row[0] >= 0 && e.row[0] < 150);
  assert.throws(() => embedSets([], d, { method: 'umap' }), OodgenError);
  assert.throws(() => embedSets([{ label: 'x', X: A.subarray(1) }], d, { method: 'umap' }), (e: unknown) => e instanceof OodgenError && /'x'/.test(e.message));
  assert.throws(() => embedSets([{ label: 'x', X: A }], d, { method: 'pca' as 'umap' }), /unknown method/);
});
