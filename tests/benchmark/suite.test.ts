// Suite files: validated before any work, errors naming the file and the field; built-in suites valid.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSuite, parseSuite } from '../../src/benchmark/suite.js';
import { BUILTIN_SUITES } from '../../src/benchmark/builtin-suites.js';
import { expandPairs, PAIRS, dataIdentity } from '../../src/benchmark/pairs.js';
import { planBenchmark } from '../../src/benchmark/run.js';
import { detectorSpec } from '../../src/scores/registry.js';
import { PUBLISHED, SOURCES, publishedFor } from '../../src/benchmark/published.js';
import { publishedCell } from '../../src/benchmark/report.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('suite');
after(() => rmSync(dir, { recursive: true, force: true }));

test('built-in suites validate, name registered detectors and known pairs', () => {
  for (const name of Object.keys(BUILTIN_SUITES)) {
    const s = loadSuite(name);
    assert.equal(s.name, name);
    for (const ex of s.experiments) {
      for (const d of ex.kind === 'latent' ? [] : ex.detectors) if (d !== '*') detectorSpec(d);
      assert.ok(expandPairs(ex.pairs).length > 0);
    }
  }
  // The pairs exist by name.
  for (const p of ['fmnist-mnist', 'fmnist-hflip', 'fmnist-vflip', 'fmnist-noise', 'fmnist-constant', 'cifar10-celeba', 'cifar10-mnist',
    'cifar10-fmnist', 'cifar10-hflip', 'cifar10-vflip', 'cifar10-noise', 'cifar10-constant', 'celeba-cifar10', 'cifar10-svhn', 'cifar10-lsun', 'cifar10-cifar100']) {
    assert.ok(PAIRS[p], p);
  }
  assert.equal(PAIRS['fmnist-hflip']!.ood, 'fashion-mnist:test+hflip');
});

test('a bad suite file fails with the file and the field named', () => {
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ name: 'x', experiments: [{ name: 'e', models: ['m'], detectors: ['elbo'], pairs: ['fmnist-mnist'], bn: ['sometimes'] }] }));
  assert.throws(() => loadSuite(bad), (e: Error) => e.name === 'OodgenError' && e.message.includes(bad) && e.message.includes('experiments.0.bn.0'));
  writeFileSync(bad, '{ not json');
  assert.throws(() => loadSuite(bad), /not valid JSON/);
  assert.throws(() => loadSuite(join(dir, 'missing.json')), /neither a built-in suite \(seed, detectors\) nor an existing file/);
  assert.throws(() => parseSuite({ name: 'x', experiments: [{ name: 'e', models: ['m'], detectors: ['elbo'], pairs: ['p'], typo: 1 }] }, 'here'), /Unrecognized key/);
  assert.throws(() => parseSuite({ name: 'x', experiments: [] }, 'here'), /experiments/);
  const two = { name: 'e', models: ['m'], detectors: ['elbo'], pairs: ['fmnist-mnist'] };
  assert.throws(() => parseSuite({ name: 'x', experiments: [two, two] }, 'here'), /'e' is listed twice/);
});

test('unknown detectors and pairs fail at planning, before any model is loaded', () => {
  const s = parseSuite({ name: 'x', experiments: [{ name: 'e', models: ['nowhere'], detectors: ['elbo', 'nope'], pairs: ['fmnist-mnist'] }] }, 'here');
  assert.throws(() => planBenchmark({ suite: s, zoo: dir }), /unknown score 'nope'/);
  assert.throws(() => expandPairs(['fmnist-mnsit']), /unknown pair 'fmnist-mnsit'/);
  assert.deepEqual(expandPairs(['fmnist']).map((p) => p.name), ['fmnist-mnist', 'fmnist-hflip', 'fmnist-vflip', 'fmnist-noise', 'fmnist-constant']);
});

test('absent data and absent zoo models are skipped with a note, not an error', () => {
  const prev = process.env.OODGEN_DATA;
  process.env.OODGEN_DATA = join(dir, 'empty-cache');
  try {
    const r = dataIdentity('svhn:test');
    assert.equal(r.ok, false);
    assert.match((r as { why: string }).why, /oodgen data fetch svhn/);
    assert.match((dataIdentity('cifar100:test') as { why: string }).why, /cifar100:test not found.*oodgen data fetch cifar100/);
    assert.deepEqual(dataIdentity('noise:10'), { ok: true, source: 'synthetic' });
    const s = parseSuite({ name: 'x', experiments: [{ name: 'e', models: ['not-trained'], detectors: ['elbo'], pairs: ['cifar10-svhn', { name: 'n', id: 'gaussian-noise:8', ood: 'noise:8' }] }] }, 'here');
    const plan = planBenchmark({ suite: s, zoo: dir });
    assert.equal(plan.units.length, 0);
    assert.deepEqual(plan.skipped.map((x) => x.what), ['e: pair cifar10-svhn (cifar10:test vs svhn:test)', 'e: model not-trained']);
    assert.match(plan.skipped[1]!.why, /zoo model 'not-trained' is not in/);
  } finally {
    if (prev === undefined) delete process.env.OODGEN_DATA; else process.env.OODGEN_DATA = prev;
  }
});

test('published figures: the issue\'s numbers, each with a known source', () => {
  const keys = new Set(SOURCES.map((s) => s.key));
  for (const p of PUBLISHED) {
    assert.ok(keys.has(p.source), p.source);
    assert.ok(PAIRS[p.pair], p.pair);
    if (p.detector) detectorSpec(p.detector);
  }
  const get = (pair: string, method: string) => PUBLISHED.find((p) => p.pair === pair && p.method === method)?.auroc;
  assert.equal(get('cifar10-svhn', 'plain ELBO'), 0.08);
  assert.equal(get('cifar10-svhn', 'LPath'), 0.99);
  assert.equal(get('cifar10-vflip', 'best published'), 0.65);
  assert.equal(get('fmnist-mnist', 'likelihood regret'), 0.99);
  assert.equal(get('fmnist-vflip', 'best published'), 0.89);
});

test('published figures sit beside eval-mode rows only (the papers score with running statistics)', () => {
  assert.deepEqual(publishedFor('fmnist-mnist', 'elbo', 'eval').map((p) => p.auroc), [0.87]);
  for (const bn of ['enc', 'dec', 'both']) assert.deepEqual(publishedFor('fmnist-mnist', 'elbo', bn), [], bn);
  assert.equal(publishedCell({ pair: 'fmnist-mnist', score: 'elbo', bn: 'enc' }), '');
  assert.equal(publishedCell({ pair: 'fmnist-mnist', score: 'elbo', bn: 'eval' }), '0.87 [lpath]');
});
