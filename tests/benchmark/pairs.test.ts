// The cifar10-cifar100 pair runs when CIFAR-100 is in the data cache and is skipped with a note saying how to get it
// when not (issue 13 item 2): the same rule as SVHN's, no special case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { availablePairs, dataIdentity } from '../../src/benchmark/pairs.js';
import { parseSuite } from '../../src/benchmark/suite.js';
import { planBenchmark, runBenchmark, allRows } from '../../src/benchmark/run.js';
import { liveTensors } from '../../src/index.js';
import { cifar100Bytes, cifarBytes, put } from '../data/helpers.js';
import { tempDir } from '../helpers/tmp.js';
import { writeZoo } from './helpers.js';

async function withData<T>(dir: string, fn: () => Promise<T> | T): Promise<T> {
  const prev = process.env.OODGEN_DATA;
  process.env.OODGEN_DATA = dir;
  try {
    return await fn();
  } finally {
    if (prev === undefined) delete process.env.OODGEN_DATA; else process.env.OODGEN_DATA = prev;
  }
}

test('cifar10-cifar100: skipped with how to get CIFAR-100 when absent, planned and scored when OODGEN_DATA has it', async (t) => {
  const data = tempDir('c100-pair', t);
  // CIFAR-10 test in the cache too, so the pair does not depend on ../shared/data.
  put(join(data, 'cifar10', 'cifar-10-batches-bin', 'test_batch.bin'), cifarBytes(8, 1).bytes);
  const skipped: { what: string; why: string }[] = [];
  await withData(data, () => {
    const r = dataIdentity('cifar100:test');
    assert.equal(r.ok, false);
    assert.match((r as { why: string }).why, /cifar100:test not found .*run `oodgen data fetch cifar100`, or put its files in /);
    assert.equal(availablePairs('e', ['cifar10-cifar100'], skipped).pairs.length, 0);
  });
  assert.equal(skipped.length, 1);
  assert.match(skipped[0]!.what, /^e: pair cifar10-cifar100 \(cifar10:test vs cifar100:test\)$/);
  assert.match(skipped[0]!.why, /^cifar100:test: .*oodgen data fetch cifar100/);

  put(join(data, 'cifar100', 'cifar-100-binary', 'test.bin'), cifar100Bytes(8, 2).bytes);
  const zoo = tempDir('c100-zoo', t);
  writeZoo(zoo);
  const suite = parseSuite({
    name: 'c100', limit: 8, fitLimit: 8, bootstrap: 10, batchSize: 8,
    experiments: [{ name: 'e', models: ['tiny-vae'], detectors: ['elbo'], bn: ['eval'], pairs: ['cifar10-cifar100'] }],
  }, 'test');
  const base = liveTensors();
  await withData(data, async () => {
    const id = dataIdentity('cifar100:test');
    assert.ok(id.ok && /^sha256:[0-9a-f]{64}$/.test(id.source), JSON.stringify(id));
    const plan = planBenchmark({ suite, zoo });
    assert.deepEqual(plan.skipped, []);
    assert.deepEqual(plan.units.map((u) => [u.id, u.pairs.map((p) => p.name)]), [['cifar10:test', ['cifar10-cifar100']]]);
    // Scored end to end: the tiny 28x28 gray VAE sees both sets as 1-channel 28x28, 8 images each.
    const cache = join(data, 'bench-cache');
    const r = await runBenchmark({ suite, cacheDir: cache, zoo, progressBars: false });
    rmSync(cache, { recursive: true, force: true });
    assert.deepEqual(r.skipped, []);
    const rows = allRows(r);
    assert.deepEqual(rows.map((x) => [x.pair, x.ood, x.nId, x.nOod]), [['cifar10-cifar100', 'cifar100:test', 8, 8]]);
    assert.ok(rows[0]!.AUROC >= 0 && rows[0]!.AUROC <= 1);
  });
  assert.equal(liveTensors(), base);
});
