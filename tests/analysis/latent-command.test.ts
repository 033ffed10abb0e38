// Command-level tests of the latent-semantics analysis (`oodgen latent`): runLatentAnalysis end to end on a tiny
// model and synthetic image sets, the engine helpers it uses (BN modes restored, no leaked tensors), and the CLI's
// validation. The SVM / one-class / embedding numerics are covered in the other tests of this folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../src/engine/index.js';
import { createModel } from '../../src/models/factory.js';
import type { LatentModel } from '../../src/models/types.js';
import { BatchNorm2d } from '../../src/nn/index.js';
import { decodeCodes, encodeSet, reconstructRows, type Images } from '../../src/analysis/encode.js';
import { latentTable, runLatentAnalysis, slugOf, spearman, type LatentAnalysisResult } from '../../src/analysis/latent-report.js';
import { mulberry32 } from '../../src/analysis/matrix.js';
import { checkLatentOptions, resolveLatentOptions, LATENT_BN_MODES, LATENT_EMBED_CHOICES } from '../../src/cli/latent.js';
import { BN_MODES } from '../../src/scores/bn-mode.js';
import { EMBED_CHOICES } from '../../src/analysis/latent-report.js';
import { OodgenError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const S = 28;

/** ID: a bright horizontal bar at a random height on a dark background; OoD: a bright vertical bar. Plus noise. */
function bars(n: number, seed: number, orientation: 'h' | 'v', name: string): Images {
  const rand = mulberry32(seed);
  const images = new Float32Array(n * S * S);
  for (let i = 0; i < n; i++) {
    const pos = 4 + Math.floor(rand() * (S - 12));
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const on = orientation === 'h' ? y >= pos && y < pos + 4 : x >= pos && x < pos + 4;
        images[i * S * S + y * S + x] = Math.min(1, (on ? 0.9 : 0.05) + 0.1 * rand());
      }
    }
  }
  return { images, shape: [n, 1, S, S], name };
}

function tinyModel(): LatentModel {
  return createModel({ kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 8 }, { generator: E.Generator.cpu(3) });
}

function bnState(m: LatentModel): string[] {
  return m.namedModules().map(([name, s]) => `${name}:${s.training}:${s instanceof BatchNorm2d ? s.statsMode : ''}`);
}

test('encodeSet / decodeCodes / reconstructRows: shapes, BN mode restored, no tensor leaks, batch-exact reconstructions', async () => {
  const model = tinyModel();
  model.train();
  const state = bnState(model);
  const params = model.stateDict();
  const before = [...params.values()].map((t) => t.toFloat32Array());
  const set = bars(20, 1, 'h', 'id');
  const live = E.liveTensors();
  for (const bn of ['eval', 'enc', 'dec', 'both'] as const) {
    const r = await encodeSet(model, set, { bn, batchSize: 8, nll: true });
    assert.equal(r.n, 20);
    assert.equal(r.mu.length, 20 * 4);
    assert.equal(r.nll!.length, 20);
    assert.equal(r.nllKind, 'elbo');
    assert.ok(r.mu.every(Number.isFinite) && r.nll!.every(Number.isFinite));
    // Reconstructions are recomputed in the batches the codes came from: equal to decoding the codes only when the
    // decoder uses running statistics; in every mode equal to a fresh pass of the same batch.
    const idx = [17, 2, 9];
    const rec = reconstructRows(model, set, idx, { bn, batchSize: 8 });
    assert.equal(rec.length, 3 * S * S);
    if (bn === 'eval' || bn === 'enc') {
      const codes = Float32Array.from(idx.flatMap((i) => Array.from(r.mu.subarray(i * 4, i * 4 + 4))));
      const dec = decodeCodes(model, codes, { bn });
      for (let k = 0; k < dec.length; k++) assert.ok(Math.abs(dec[k]! - rec[k]!) < 1e-5, `${bn}: pixel ${k}`);
    }
  }
  // enc mode differs from eval mode (the encoder has BatchNorm), so the mode was really applied.
  const a = await encodeSet(model, set, { bn: 'eval', batchSize: 8 });
  const b = await encodeSet(model, set, { bn: 'enc', batchSize: 8 });
  assert.ok(a.mu.some((v, i) => Math.abs(v - b.mu[i]!) > 1e-6));
  assert.equal(E.liveTensors(), live, 'tensors leaked');
  assert.deepEqual(bnState(model), state, 'training flags / BN stats modes not restored');
  [...model.stateDict().values()].forEach((t, i) => assert.deepEqual(t.toFloat32Array(), before[i], 'parameters or running statistics changed'));
  await assert.rejects(encodeSet(model, { images: new Float32Array(3 * 32 * 32), shape: [1, 3, 32, 32] }), /model takes 1x28x28/);
  await assert.rejects(encodeSet(model, set, { bn: 'sometimes' as never }), OodgenError);
  model.dispose();
});

test('runLatentAnalysis end to end: files, table fields, accuracies in [0, 1], nothing leaked', async () => {
  const dir = tempDir('latent');
  try {
    const model = tinyModel();
    const live = E.liveTensors();
    const state = bnState(model);
    const r: LatentAnalysisResult = await runLatentAnalysis({
      model, idTrain: bars(120, 1, 'h', 'bars:train'), idTest: bars(60, 2, 'h', 'bars:test'),
      ood: [{ name: 'vbars:test', set: bars(90, 3, 'v', 'vbars') }],
      idName: 'bars', outDir: dir, bn: 'eval', limit: 80, seed: 1, embed: 'both', k: 4, embedPoints: 150,
      meta: { command: 'oodgen latent --checkpoint runs/tiny --id bars --ood vbars:test', checkpoint: 'runs/tiny' },
    });
    assert.equal(E.liveTensors(), live, 'tensors leaked');
    assert.deepEqual(bnState(model), state);
    for (const f of ['results.json', 'results.md', 'dist-hist-vbars-test.png', 'interp-vbars-test.png', 'hardest-vbars-test.png',
      'dist-vs-nll-vbars-test.png', 'map-tsne.png', 'map-umap.png', 'distances-vbars-test.json']) {
      assert.ok(existsSync(join(dir, f)) && statSync(join(dir, f)).size > 0, `missing ${f}`);
    }
    const j = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as LatentAnalysisResult;
    // Rows: latent + random projection for the pair, then the ID-vs-ID control.
    assert.equal(j.table.length, 3);
    assert.match(j.table[0]!.features, /latent codes/);
    assert.match(j.table[1]!.features, /random projection of pixels \(784 -> 4\)/);
    assert.match(j.table[2]!.pair, /control/);
    for (const row of j.table) {
      for (const key of ['positiveAccuracy', 'negativeAccuracy', 'auroc', 'oneClassAuroc'] as const) {
        assert.ok(row[key] >= 0 && row[key] <= 1, `${row.pair} / ${row.features}: ${key} = ${row[key]}`);
      }
    }
    // limit 80 per set, OoD split in halves: fit 80 ID train vs 40 OoD, evaluate 60 ID test vs 40 OoD.
    assert.deepEqual(j.table[0]!.fit, { positive: 80, negative: 40 });
    assert.deepEqual(j.table[0]!.heldOut, { positive: 60, negative: 40 });
    assert.deepEqual(j.table[2]!.fit, { positive: 40, negative: 30 });
    assert.equal(j.sets.find((s) => s.role === 'ood')!.available, 90);
    const p = j.pairs[0]!;
    assert.equal(p.likelihood.kind, 'elbo');
    assert.ok(p.likelihood.metrics.AUROC >= 0 && p.likelihood.metrics.AUROC <= 1);
    assert.ok(p.strips.rows.length > 0 && p.strips.rows.length <= 6);
    for (const row of p.strips.rows) {
      assert.ok(row.distance < 0 || p.latent.negativeAccuracy === 0, 'strip rows start on the OoD side');
      assert.equal(row.ts.length, 7);
      assert.equal(row.ts[0], 0);
      assert.equal(row.ts[2], row.crossingT);
      assert.ok(Math.abs(row.ts[6]! - row.crossingT - 2 * p.strips.radius) < 1e-9);
    }
    assert.equal(p.hardest.id.length, 4);
    assert.equal(p.hardest.ood.length, 4);
    assert.deepEqual(j.maps.map((m) => m.method), ['tsne', 'umap']);
    assert.equal(j.maps[0]!.points, 150);
    const md = readFileSync(join(dir, 'results.md'), 'utf8');
    assert.match(md, /\| ID vs OoD +\| features/);
    assert.match(md, /positive acc\. \| negative acc\. \| AUROC\(-d\) \| one-class AUROC/);
    assert.match(md, /oodgen latent --checkpoint runs\/tiny/);
    assert.match(md, /!\[.*\]\(interp-vbars-test\.png\)/);
    // Image grids are real PNGs of the expected layout: interp has up to 6 rows x 8 columns of 56 px cells.
    const png = readFileSync(join(dir, 'interp-vbars-test.png'));
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.equal(png.readUInt32BE(16), 8 * 56 + 9 * 2);
    assert.equal(png.readUInt32BE(20), p.strips.rows.length * 56 + (p.strips.rows.length + 1) * 2);
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runLatentAnalysis: the same seed gives the same numbers; identical ID and OoD sets stay near chance', async () => {
  const dir = tempDir('latent');
  try {
    const model = tinyModel();
    const opts = {
      model, idTrain: bars(150, 11, 'h', 'a'), idTest: bars(150, 12, 'h', 'b'),
      ood: [{ name: 'same', set: bars(300, 13, 'h', 'c') }], outDir: dir, embed: 'none' as const, seed: 5,
    };
    const r1 = await runLatentAnalysis(opts);
    const r2 = await runLatentAnalysis(opts);
    assert.deepEqual(r1.table, r2.table);
    // ID and "OoD" from the same generator: the held-out AUROC of -d must be near 0.5 (150 vs 150 codes; the
    // standard error of an AUROC at 0.5 is ~0.033 here).
    assert.ok(Math.abs(r1.table[0]!.auroc - 0.5) < 0.12, `AUROC ${r1.table[0]!.auroc}`);
    assert.ok(Math.abs(r1.table[2]!.auroc - 0.5) < 0.15, `control AUROC ${r1.table[2]!.auroc}`);
    assert.ok(!existsSync(join(dir, 'map-tsne.png')));
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a model whose codes separate the sets by construction: 100% accuracy, AUROC 1, one-class AUROC > 0.99', async () => {
  // Stand-in LatentModel: the code is (mean of the middle rows' bar energy, mean of the middle columns', ...),
  // computed with engine ops, so ID (horizontal bars) and OoD (vertical bars) codes are far apart.
  const base = tinyModel();
  const model = Object.create(base) as LatentModel;
  Object.defineProperty(model, 'encode', {
    value: (x: E.Tensor) => {
      const rowsE = E.mean(E.square(E.sub(E.mean(x, 3), E.mean(x, [2, 3], true).squeeze(3))), [1, 2]); // variance across rows
      const colsE = E.mean(E.square(E.sub(E.mean(x, 2), E.mean(x, [2, 3], true).squeeze(2))), [1, 2]); // variance across columns
      const mu = E.stack([E.mul(rowsE, 10), E.mul(colsE, 10), E.mean(x, [1, 2, 3]), E.mean(E.narrow(x, 2, 0, 14), [1, 2, 3])], 1);
      return { mu, logvar: E.zerosLike(mu) };
    },
  });
  const dir = tempDir('latent');
  try {
    const r = await runLatentAnalysis({
      model, idTrain: bars(100, 21, 'h', 'h'), idTest: bars(100, 22, 'h', 'h2'), ood: [{ name: 'v', set: bars(200, 23, 'v', 'v') }],
      outDir: dir, embed: 'none', k: 2, stripRows: 2,
    });
    const row = r.table[0]!;
    assert.equal(row.positiveAccuracy, 1);
    assert.equal(row.negativeAccuracy, 1);
    assert.equal(row.auroc, 1);
    assert.ok(row.oneClassAuroc > 0.99, `one-class AUROC ${row.oneClassAuroc}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    base.dispose();
  }
});

test('helpers: slugs, Spearman, table layout', () => {
  assert.equal(slugOf('mnist:test'), 'mnist-test');
  assert.equal(slugOf('/data/My Set:train'), 'data-my-set-train');
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Math.abs(spearman([1, 1, 2, 3], [1, 2, 3, 4]) - 0.9486832980505138) < 1e-12); // scipy.stats.spearmanr
  const t = latentTable([{ pair: 'a vs b', features: 'latent codes', fit: { positive: 10, negative: 5 }, heldOut: { positive: 8, negative: 5 }, positiveAccuracy: 0.986, negativeAccuracy: 0.92, auroc: 0.99, oneClassAuroc: 0.8 }]);
  assert.match(t, /\| a vs b +\| latent codes +\| 10 \/ 5 +\| 8 \/ 5 +\| 98\.6% +\| 92\.0% +\| 0\.990 +\| 0\.800 +\|/);
});

test('CLI validation: clear errors before any work', async () => {
  const dir = tempDir('latent-cli');
  try {
    const ok = { checkpoint: dir, id: 'fashion-mnist', ood: 'mnist:test', out: join(dir, 'out') };
    mkdirSync(join(dir, 'run'));
    writeFileSync(join(dir, 'run', 'config.json'), '{}');
    const good = { ...ok, checkpoint: join(dir, 'run') };
    assert.deepEqual([...LATENT_BN_MODES], [...BN_MODES]);
    assert.deepEqual([...LATENT_EMBED_CHOICES], [...EMBED_CHOICES]);
    assert.throws(() => checkLatentOptions({ ...good, checkpoint: join(dir, 'nope') }), (e: unknown) => e instanceof OodgenError && /checkpoint .*nope.* does not exist/.test(e.message));
    assert.throws(() => checkLatentOptions(ok), (e: unknown) => e instanceof OodgenError && /no config\.json/.test(e.message));
    assert.throws(() => checkLatentOptions({ ...good, id: 'fashion-mnist:train' }), /--id takes a dataset name without a split/);
    assert.throws(() => checkLatentOptions({ ...good, id: 'imagenet' }), /unknown dataset "imagenet"/);
    assert.throws(() => checkLatentOptions({ ...good, ood: 'mnist:test,nosuchset' }), /unknown dataset "nosuchset"/);
    assert.throws(() => checkLatentOptions({ ...good, ood: ' , ' }), /--ood: no dataset/);
    assert.throws(() => checkLatentOptions({ ...good, ood: 'mnist:test,mnist:test' }), /listed twice/);
    assert.throws(() => checkLatentOptions({ ...good, bn: 'sometimes' }), /unknown BatchNorm mode 'sometimes'/);
    assert.throws(() => checkLatentOptions({ ...good, embed: 'pca' }), /--embed must be one of tsne, umap, both, none/);
    assert.throws(() => checkLatentOptions({ ...good, limit: '0' }), /--limit must be an integer >= 4/);
    assert.throws(() => checkLatentOptions({ ...good, seed: '-1' }), /--seed must be a non-negative integer/);
    assert.throws(() => checkLatentOptions({ ...good, k: 'x' }), /--k must be a positive integer/);
    const o = checkLatentOptions({ ...good, ood: 'mnist:test, noise:500', limit: 'all' });
    assert.deepEqual(o.oodSpecs, ['mnist:test', 'noise:500']);
    assert.equal(o.idTrainSpec, 'fashion-mnist:train');
    assert.equal(o.idTestSpec, 'fashion-mnist:test');
    assert.equal(o.limit, undefined);
    assert.equal(checkLatentOptions(good).limit, 5000);
    // Dataset files are checked before the model is loaded: an empty folder given as the OoD set.
    mkdirSync(join(dir, 'empty'));
    const missing = { ...good, ood: join(dir, 'empty') };
    await assert.rejects(resolveLatentOptions(checkLatentOptions(missing)), (e: unknown) => e instanceof OodgenError && /found no dataset files/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
