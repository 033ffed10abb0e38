// The built-in `seed` suite with every zoo model it names present (tiny untrained stand-ins, 3-channel ones for the
// CIFAR-10 and CelebA experiments), at --limit 8: every experiment produces its units - the colour pairs with both
// CIFAR-10 decoders and both BN modes, the CelebA pair, the Soft-IntroVAE - nothing fails or is skipped but the
// pairs whose data is not on hand, and every claim C1-C8 gets a verdict (none "not run"). This is the path the
// coordinator takes once the zoo's training ends. Needs Fashion-MNIST, MNIST, CIFAR-10 and CelebA (skipped otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { liveTensors } from '../../src/index.js';
import { loadSuite } from '../../src/benchmark/suite.js';
import { runBenchmark } from '../../src/benchmark/run.js';
import { dataIdentity } from '../../src/benchmark/pairs.js';
import { evaluateClaims } from '../../src/benchmark/claims.js';
import { TINY, writeRun } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

const needed = ['fashion-mnist:train', 'fashion-mnist:test', 'mnist:test', 'cifar10:test', 'celeba:test'];
const absent = needed.map((s) => ({ s, r: dataIdentity(s) })).find((x) => !x.r.ok);
const skip = absent ? `${absent.s} is not on this machine` : false;

test('seed suite with every zoo model present: all experiments run, claims C1-C8 all computed', { skip, timeout: 600_000 }, async (t) => {
  const dir = tempDir('bench-seed-zoo', t);
  const zoo = join(dir, 'zoo');
  const gray = { ...TINY, imageSize: 32 as const };
  const colour = { ...gray, channels: 3 };
  writeRun(zoo, 'fm-vae-gauss', gray, 1, 'fashion-mnist:train');
  writeRun(zoo, 'fm-vae-cat', { ...gray, decoder: 'categorical', sigma2: undefined }, 2, 'fashion-mnist:train');
  writeRun(zoo, 'fm-vae-bern', { ...gray, decoder: 'bernoulli', sigma2: undefined }, 3, 'fashion-mnist:train');
  writeRun(zoo, 'fm-ae', { ...gray, kind: 'ae' }, 4, 'fashion-mnist:train');
  writeRun(zoo, 'fm-sintro', { ...gray, kind: 'sintro', sigma2: undefined }, 5, 'fashion-mnist:train');
  writeRun(zoo, 'c10-vae-gauss', colour, 6, 'cifar10:train');
  writeRun(zoo, 'c10-vae-cat', { ...colour, decoder: 'categorical', sigma2: undefined }, 7, 'cifar10:train');
  writeRun(zoo, 'celeba-vae', colour, 8, 'celeba:train');
  const base = liveTensors();
  const suite = loadSuite('seed');
  // IWAE at the suite's K = 50 costs ~0.8 s per image on a categorical colour decoder even at width 4 (256 logits per
  // pixel and channel, the cost is the likelihood, not the network): K = 2 runs the same path in seconds.
  for (const e of suite.experiments) if (e.kind !== 'latent' && typeof e.options.k === 'number') e.options.k = 2;
  const r = await runBenchmark({ suite, limit: 8, cacheDir: join(dir, 'cache'), zoo, progressBars: false });
  assert.equal(r.interrupted, false);
  assert.equal(r.counts.computed, r.counts.planned);
  // Only pairs whose data this machine lacks may be skipped (SVHN, LSUN, CIFAR-100): no model, no failed unit.
  for (const s of r.skipped) assert.match(s.what, /: pair cifar10-(svhn|lsun|cifar100)/, `${s.what}: ${s.why}`);
  const units = (ex: string) => r.units.filter((u) => u.experiment === ex);
  const cifarPairs = ['cifar10-celeba', 'cifar10-mnist', 'cifar10-fmnist', 'cifar10-hflip', 'cifar10-vflip', 'cifar10-noise', 'cifar10-constant'];
  // colour: c10-vae-gauss x (elbo, iwae, components) x (eval, enc); colour-cat: c10-vae-cat x (elbo, components) x 2.
  assert.equal(units('colour').length, 6);
  assert.equal(units('colour-cat').length, 4);
  assert.deepEqual(units('colour-cat-iwae').map((u) => [u.model, u.detector, u.bn]), [['c10-vae-cat', 'iwae', 'eval']]);
  for (const u of [...units('colour'), ...units('colour-cat'), ...units('colour-cat-iwae')]) {
    assert.deepEqual(u.pairs.map((p) => p.name), cifarPairs.filter((p) => u.pairs.some((q) => q.name === p)));
    for (const p of cifarPairs) if (dataIdentity(p === 'cifar10-celeba' ? 'celeba:test' : 'cifar10:test').ok) assert.ok(u.pairs.some((q) => q.name === p), `${u.experiment} ${u.detector}: ${p}`);
    for (const row of u.rows) assert.ok(Number.isFinite(row.AUROC), `${u.experiment} ${row.score} ${row.pair}`);
  }
  assert.deepEqual(units('celeba').map((u) => [u.model, u.detector]), [['celeba-vae', 'elbo'], ['celeba-vae', 'iwae']]);
  assert.deepEqual(units('celeba')[0]!.pairs.map((p) => p.name), ['celeba-cifar10']);
  assert.deepEqual(units('fmnist-sintro').map((u) => [u.model, u.detector]), [['fm-sintro', 'elbo'], ['fm-sintro', 'iwae']]);
  const claims = evaluateClaims(r);
  assert.deepEqual(claims.map((c) => c.id), ['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'C8']);
  for (const c of claims) {
    assert.ok(c.verdict === 'reproduced' || c.verdict === 'not reproduced', `${c.id}: ${c.verdict} ${c.label}`);
    assert.match(c.evidence, /[0-9]/, c.id);
  }
  assert.equal(liveTensors(), base);
});
