// The built-in `seed` suite end to end on a fake zoo of tiny untrained models named as the seed's, at --limit 16:
// every experiment plans and runs (the latent one included), models absent from the zoo are skipped with a note,
// and the claims C1-C8 are computed from the run - each either a verdict with its numbers or "not run" naming the
// missing zoo model. Needs Fashion-MNIST and MNIST on this machine (skipped otherwise).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { liveTensors } from '../../src/index.js';
import { loadSuite } from '../../src/benchmark/suite.js';
import { runBenchmark } from '../../src/benchmark/run.js';
import { dataIdentity } from '../../src/benchmark/pairs.js';
import { evaluateClaims } from '../../src/benchmark/claims.js';
import { TINY, writeRun } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('bench-seed');
after(() => rmSync(dir, { recursive: true, force: true }));
const absent = ['fashion-mnist:train', 'fashion-mnist:test', 'mnist:test'].map((s) => ({ s, r: dataIdentity(s) })).find((x) => !x.r.ok);
const skip = absent ? `${absent.s} is not on this machine` : false;

test('seed suite on tiny models: every experiment runs, claims computed or naming the missing zoo model', { skip }, async () => {
  const zoo = join(dir, 'zoo');
  const cfg = { ...TINY, imageSize: 32 as const };
  writeRun(zoo, 'fm-vae-gauss', cfg, 1, 'fashion-mnist:train');
  writeRun(zoo, 'fm-vae-cat', { ...cfg, decoder: 'categorical', sigma2: undefined }, 2, 'fashion-mnist:train');
  writeRun(zoo, 'fm-vae-bern', { ...cfg, decoder: 'bernoulli', sigma2: undefined }, 3, 'fashion-mnist:train');
  writeRun(zoo, 'fm-ae', { ...cfg, kind: 'ae' }, 4, 'fashion-mnist:train');
  const base = liveTensors();
  const suite = loadSuite('seed');
  assert.ok(suite.experiments.some((e) => e.kind === 'latent'));
  const r = await runBenchmark({ suite, limit: 16, cacheDir: join(dir, 'cache'), zoo, progressBars: false });
  assert.equal(r.interrupted, false);
  assert.equal(r.counts.computed, r.counts.planned);
  // fmnist-decoders: 3 models x 3 detectors; fmnist-ae: 1; bn-modes: 2 models x 4 modes; latent: 2 models.
  assert.equal(r.units.length, 9 + 1 + 8);
  assert.deepEqual(r.latent.map((u) => u.model), ['fm-vae-gauss', 'fm-vae-cat']);
  for (const u of r.latent) assert.deepEqual([u.pairs[0]!.positive.n, u.pairs[0]!.negative.n], [16, 8]);
  for (const m of ['fm-sintro', 'c10-vae-gauss', 'c10-vae-cat', 'celeba-vae']) assert.ok(r.skipped.some((s) => s.what.endsWith(`: model ${m}`)), m);
  const claims = evaluateClaims(r);
  assert.deepEqual(claims.filter((c) => c.verdict === 'not run').map((c) => [c.id, c.label]), [['C4', 'not run (missing: zoo/fm-sintro)']]);
  for (const c of claims.filter((x) => x.verdict !== 'not run')) {
    assert.ok(c.verdict === 'reproduced' || c.verdict === 'not reproduced');
    assert.match(c.evidence, /[0-9]/, c.id);
    assert.deepEqual(c.missing, [], c.id);
  }
  assert.equal(liveTensors(), base);
});
