// The committed Fashion-MNIST suite files: they validate, name registered detectors, and the full table
// (fm-detectors.json) plans likelihood regret as exactly the units of fm-regret.json, so the regret run made on its
// own in the background is reused from the cache instead of being recomputed (hours of CPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { loadSuite } from '../../src/benchmark/suite.js';
import { planBenchmark } from '../../src/benchmark/run.js';
import { detectorNames } from '../../src/scores/registry.js';
import { lackingData } from '../helpers/data.js';

const root = new URL('../../', import.meta.url).pathname;
const suiteFile = (n: string) => `${root}bench/suites/${n}.json`;
const zoo = `${root}zoo`;
const noZoo = existsSync(`${zoo}/fm-vae-gauss/model.safetensors`) ? false : 'zoo/fm-vae-gauss is not in this checkout';

test('bench/suites/*.json validate and name registered detectors', () => {
  for (const n of ['fm-detectors', 'fm-regret', 'fm-detectors-prelim', 'c10-detectors', 'celeba-detectors', 'glow', 'claims']) {
    const s = loadSuite(suiteFile(n));
    for (const ex of s.experiments) for (const d of ex.kind === 'detectors' ? ex.detectors : []) assert.ok(d === '*' || detectorNames().includes(d), `${n}: ${d}`);
  }
  // The full table: every registered detector that takes one or two models of this kind is in it (exact-nll needs a flow).
  const full = loadSuite(suiteFile('fm-detectors')).experiments.flatMap((e) => (e.kind === 'detectors' ? e.detectors : []));
  for (const d of detectorNames()) if (d !== 'exact-nll') assert.ok(full.includes(d), `fm-detectors.json lacks ${d}`);
});

test('fm-detectors.json reuses the likelihood-regret units of fm-regret.json (same cache keys)', { skip: noZoo }, () => {
  const plan = (n: string) => planBenchmark({ suite: loadSuite(suiteFile(n)), zoo });
  const keys = (n: string) => plan(n).units.filter((u) => u.detector === 'likelihood-regret').map((u) => u.key);
  const regret = keys('fm-regret');
  assert.equal(regret.length, 1);
  assert.deepEqual(keys('fm-detectors'), regret);
});

// Pairs whose data this machine lacks are planned as skipped, and the plans' assertions need the data.
const noC10 = existsSync(`${zoo}/c10-vae-gauss/model.safetensors`) ? lackingData('cifar10:test', 'mnist:test') : 'zoo/c10-vae-gauss is not in this checkout';

test('c10-detectors.json: every registered single-model detector on the CIFAR-10 VAE, regret at 200 per set, and the seed suite\'s colour units reused from the cache', { skip: noC10 }, () => {
  const c10 = planBenchmark({ suite: loadSuite(suiteFile('c10-detectors')), zoo });
  const ran = new Set(c10.units.map((u) => u.detector));
  for (const d of detectorNames()) {
    // exact-nll needs a flow; likelihood-ratio a background model and waic an ensemble, neither trained for CIFAR-10.
    if (['exact-nll', 'likelihood-ratio', 'waic'].includes(d)) assert.ok(c10.skipped.some((s) => s.what.endsWith(`/ ${d}`)), `${d} skipped with a note`);
    else assert.ok(ran.has(d), `c10-detectors lacks ${d}`);
  }
  assert.equal(c10.units.find((u) => u.detector === 'likelihood-regret')!.limit, 200);
  assert.ok(c10.units.every((u) => u.pairs.some((p) => p.name === 'cifar10-mnist')));
  // The seed suite's colour experiment (BN eval) scores the same ELBO / IWAE / components units: one computation.
  const seed = planBenchmark({ suite: loadSuite('seed'), zoo });
  const colour = new Set(seed.units.filter((u) => u.experiment.name === 'colour' && u.bn === 'eval').map((u) => u.key));
  assert.equal(colour.size, 3);
  for (const k of colour) assert.ok(c10.units.some((u) => u.key === k));
});

test('glow.json plans the exact likelihood and every single-model likelihood detector on a Glow run found through --zoo', { skip: lackingData('fashion-mnist:test', 'mnist:test') }, async (t) => {
  const { train } = await import('../../src/train/trainer.js');
  const { tempDir } = await import('../helpers/tmp.js');
  const { rmSync } = await import('node:fs');
  const dir = tempDir('glow-suite');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const set = { images: new Float32Array(16 * 1024).map((_, i) => ((i * 7919) % 256) / 255), shape: [16, 1, 32, 32] as [number, number, number, number], name: 'tiny', source: 'test' };
  await train({ out: `${dir}/fm-glow`, model: { kind: 'glow', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 1, width: 8, flow: { levels: 2, steps: 1, width: 8, lu: true } }, trainSet: set, maxSteps: 1, batchSize: 8, valLimit: 4, progress: 'none', grids: false });
  const plan = planBenchmark({ suite: loadSuite(suiteFile('glow')), zoo: dir });
  assert.deepEqual(plan.units.map((u) => u.detector).sort(), ['dose', 'exact-nll', 'input-complexity', 'typicality', 'typicality-batch']);
  assert.ok(plan.units.every((u) => u.entry.name === 'fm-glow' && u.pairs.some((p) => p.name === 'fmnist-mnist')));
  assert.ok(plan.skipped.some((s) => /cifar10-glow: model c10-glow/.test(s.what)), 'the CIFAR-10 Glow, not trained here, is skipped with a note');
  assert.ok(plan.skipped.some((s) => /fm-glow \/ elbo/.test(s.what) && /lacks what elbo needs/.test(s.why)));
  // The likelihood ratio and WAIC on Glow wait for their background Glow and ensemble, skipped with the reason.
  assert.ok(plan.skipped.some((s) => s.what === 'fmnist-glow-ratio: fm-glow / likelihood-ratio' && /'fm-glow-bg' is not in/.test(s.why)), JSON.stringify(plan.skipped));
  assert.ok(plan.skipped.some((s) => s.what === 'fmnist-glow-waic: model fm-glow-ens0' && /'fm-glow-ens0' is not in/.test(s.why)));
});
