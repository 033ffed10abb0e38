// DetectorSpec.subsetOf: a detector whose results are another's (the ELBO of its components) is checked bit for
// bit against scoring it alone, on every decoder and BatchNorm mode; evaluate() then scores the pair in one pass
// (counted encoder calls) with the same rows; the registry refuses a subsetOf it cannot honour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, liveTensors, rand, tidy } from '../../src/engine/index.js';
import { createModel } from '../../src/models/factory.js';
import type { LatentModel, ModelConfig } from '../../src/models/types.js';
import { evaluate } from '../../src/ood/evaluate.js';
import {
  createDetector, detectorNames, detectorSpec, detectorsFor, listDetectors, registerDetector, scoreDataset, subsetBase, unregisterDetector,
  type DetectorSpec, type ImageSource,
} from '../../src/scores/index.js';

const BASE: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4, sigma2: 0.1 };
const { sigma2: _, ...NO_SIGMA } = BASE;
const DECODERS: ModelConfig[] = [BASE, { ...NO_SIGMA, decoder: 'categorical' }, { ...NO_SIGMA, decoder: 'bernoulli' }];

function images(n: number, seed: number): ImageSource & { name: string } {
  return { images: tidy(() => rand([n, 1, 28, 28], { generator: Generator.cpu(seed) }).toFloat32Array()), shape: [n, 1, 28, 28], name: `rand-${seed}` };
}

test('every subsetOf detector equals its base restricted to its columns, bit for bit (each decoder, BN eval and enc)', () => {
  const subsets = listDetectors().filter((s) => s.subsetOf);
  assert.ok(subsets.some((s) => s.name === 'elbo' && s.subsetOf === 'components'), 'elbo declares subsetOf components');
  const start = liveTensors();
  const data = images(12, 5);
  let compared = 0;
  for (const cfg of DECODERS) {
    const model = createModel(cfg, { generator: Generator.cpu(3) }) as LatentModel;
    for (const spec of subsets) {
      const able = detectorsFor(model);
      if (!able.includes(spec.name)) continue;
      assert.ok(able.includes(spec.subsetOf!), `${spec.subsetOf} applies wherever ${spec.name} does`);
      for (const bn of ['eval', 'enc'] as const) {
        // Batches of 5: the last (short) batch and BN batch statistics are part of what must agree.
        const a = scoreDataset(createDetector(spec.name, model, { seed: 7 }), data, { batchSize: 5, bn });
        const b = scoreDataset(createDetector(spec.subsetOf!, model, { seed: 7 }), data, { batchSize: 5, bn });
        assert.deepEqual(a.score, b.score, `${cfg.decoder} ${spec.name} bn=${bn}: score`);
        for (const c of Object.keys(spec.columns)) assert.deepEqual(a.columns[c], b.columns[c], `${cfg.decoder} ${spec.name} bn=${bn}: column ${c}`);
        compared++;
      }
    }
    model.dispose();
  }
  assert.equal(compared, 6);
  assert.equal(liveTensors(), start);
});

test('evaluate(): elbo with components is one pass (half the encoder calls) with the rows of scoring each alone', async () => {
  const start = liveTensors();
  const model = createModel(BASE, { generator: Generator.cpu(4) }) as LatentModel;
  let encodes = 0;
  const encode = model.encode.bind(model);
  model.encode = (x) => { encodes++; return encode(x); };
  const id = images(10, 1), ood = [images(10, 2)];
  const o = { model, id, ood, bn: ['eval', 'enc'], batchSize: 5, bootstrap: 20, seed: 3, progressBars: false };
  const both = await evaluate({ ...o, detectors: ['elbo', 'components'] });
  const nBoth = encodes; encodes = 0;
  const alone = await evaluate({ ...o, detectors: ['components'] });
  const nComponents = encodes; encodes = 0;
  const elbo = await evaluate({ ...o, detectors: ['elbo'] });
  assert.equal(nBoth, nComponents, 'the pair costs what components alone costs');
  assert.equal(nComponents, 2 * 4, '2 BN modes x 2 sets x 2 batches');
  assert.deepEqual(both.derived, { elbo: 'components' });
  assert.deepEqual(alone.derived, {});
  // Row by row: same detector order as asked (elbo's rows, then components'), each equal to scoring it alone.
  const key = (r: { score: string; bn: string; ood: string }) => `${r.score}|${r.bn}|${r.ood}`;
  const want = new Map([...elbo.rows, ...alone.rows].map((r) => [key(r), r]));
  assert.equal(both.rows.length, want.size);
  for (const r of both.rows) assert.deepEqual(r, want.get(key(r)));
  for (const bn of ['eval', 'enc']) {
    assert.deepEqual(both.raw.elbo![bn]![1]!.score, elbo.raw.elbo![bn]![1]!.score);
    assert.deepEqual(Object.keys(both.raw.elbo![bn]![0]!.columns).sort(), Object.keys(detectorSpec('elbo').columns).sort());
  }
  assert.equal(both.seconds['elbo/eval'], 0);
  // A ready-made instance may carry other options: scored on its own.
  encodes = 0;
  const inst = await evaluate({ ...o, bn: ['eval'], detectors: [createDetector('elbo', model, { seed: 3 }), 'components'] });
  assert.deepEqual(inst.derived, {});
  assert.equal(encodes, 2 * 4);
  model.dispose();
  assert.equal(liveTensors(), start);
});

test('the registry refuses a subsetOf that cannot hold: missing columns, fitted, other granularity, itself', () => {
  const elbo = detectorSpec('elbo');
  const make = (over: Partial<DetectorSpec>): DetectorSpec => ({ ...elbo, name: 'test-subset', ...over });
  assert.throws(() => registerDetector(make({ columns: { elbo: 'nats', nope: 'nats' } })), /subsetOf 'components' lacks its column\(s\) nope/);
  assert.throws(() => registerDetector(make({ fits: true })), /subsetOf is for unfitted single-model detectors/);
  assert.throws(() => registerDetector(make({ granularity: 'batch' })), /granularity 'sample', this one 'batch'/);
  assert.throws(() => registerDetector(make({ subsetOf: 'test-subset' })), /subsetOf names itself/);
  assert.equal(detectorNames().includes('test-subset'), false);
  // Registered before its base: checked when the base arrives; a base without the columns is refused.
  registerDetector(make({ subsetOf: 'test-base' }));
  assert.equal(subsetBase('test-subset'), null, 'no base registered yet: scored on its own');
  assert.throws(() => registerDetector({ ...detectorSpec('components'), name: 'test-base', columns: { kl: 'nats' }, rows: [{ row: 'kl', column: 'kl', meanOf: 'kl' }] }), /detector 'test-subset': subsetOf 'test-base' lacks its column\(s\) elbo, reconstruction/);
  registerDetector({ ...detectorSpec('components'), name: 'test-base' });
  assert.equal(subsetBase('test-subset'), 'test-base');
  assert.ok(unregisterDetector('test-subset') && unregisterDetector('test-base'));
  // A cycle would leave evaluate() without a detector to score: refused at registration.
  registerDetector(make({ name: 'test-c', subsetOf: 'test-d' }));
  assert.throws(() => registerDetector(make({ name: 'test-d', subsetOf: 'test-c' })), /detector 'test-d': subsetOf 'test-c' leads back to 'test-d' \(a cycle\)/);
  assert.ok(unregisterDetector('test-c'));
});

test('a subset of a subset takes its numbers from the end of the chain', async () => {
  const elbo = detectorSpec('elbo');
  const named = (name: string): DetectorSpec['create'] => (ctx) => Object.assign(elbo.create(ctx), { name });
  registerDetector({ ...elbo, name: 'test-elbo-only', columns: { elbo: 'nats per image' }, subsetOf: 'elbo', create: named('test-elbo-only') });
  try {
    assert.equal(subsetBase('test-elbo-only'), 'components');
    const model = createModel(BASE, { generator: Generator.cpu(6) }) as LatentModel;
    const o = { model, id: images(6, 1), ood: [images(6, 2)], batchSize: 3, bootstrap: 0, progressBars: false };
    const both = await evaluate({ ...o, detectors: ['test-elbo-only', 'components'] });
    const alone = await evaluate({ ...o, detectors: ['test-elbo-only'] });
    assert.deepEqual(both.derived, { 'test-elbo-only': 'components' });
    assert.deepEqual(both.rows.filter((r) => r.score === 'test-elbo-only'), alone.rows);
    model.dispose();
  } finally {
    unregisterDetector('test-elbo-only');
  }
});
