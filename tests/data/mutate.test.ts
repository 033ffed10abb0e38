// Input mutation for the likelihood-ratio background model (Ren et al. 2019): each value is replaced with
// probability mu by a uniform 8-bit level; the trainer records the rate and mutates every training batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, full, liveTensors } from '../../src/engine/index.js';
import { Rng } from '../../src/data/rng.js';
import { checkMutationRate, mutateInPlace, mutateTensor } from '../../src/data/mutate.js';
import { train } from '../../src/train/trainer.js';
import { parseTrainOptions } from '../../src/cli/train.js';
import { OodgenError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

/** Changed fraction and level histogram of a mutated constant image (0.5 is not a level k/255, so every draw shows). */
function check(out: ArrayLike<number>, n: number, mu: number): void {
  const counts = new Array(256).fill(0);
  let changed = 0;
  for (let i = 0; i < n; i++) {
    if (out[i] === 0.5) continue;
    changed++;
    const k = Math.round(out[i]! * 255);
    assert.ok(Math.abs(out[i]! - k / 255) < 1e-6, `value ${out[i]} is an 8-bit level`);
    counts[k]++;
  }
  const se = Math.sqrt((mu * (1 - mu)) / n);
  assert.ok(Math.abs(changed / n - mu) < 5 * se, `changed ${changed / n} vs mu ${mu}`);
  // Uniform over the 256 levels: chi-square with 255 degrees of freedom, far below its 99.99% quantile (~360).
  const e = changed / 256;
  const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
  assert.ok(chi2 < 360, `chi-square ${chi2}`);
}

test('mutateInPlace: a fraction mu of the values, each a uniform 8-bit level', () => {
  const n = 200_000;
  for (const mu of [0.1, 0.3]) {
    const x = new Float32Array(n).fill(0.5);
    const replaced = mutateInPlace(x, mu, new Rng(7));
    assert.equal(replaced, Array.from(x).filter((v) => v !== 0.5).length);
    check(x, n, mu);
  }
  const z = new Float32Array(10).fill(0.5);
  assert.equal(mutateInPlace(z, 0, new Rng(1)), 0);
  assert.throws(() => checkMutationRate(1.5), (e: Error) => e instanceof OodgenError && /--mutate/.test(e.message));
});

test('mutateTensor: the same law on tensors, reproducible from the generator', () => {
  const start = liveTensors();
  const x = full([50, 1, 40, 40], 0.5);
  const a = mutateTensor(x, 0.2, Generator.cpu(3)), b = mutateTensor(x, 0.2, Generator.cpu(3));
  const av = a.toFloat32Array();
  check(av, av.length, 0.2);
  assert.deepEqual(av, b.toFloat32Array());
  assert.equal(mutateTensor(x, 0, Generator.cpu(3)), x);
  x.dispose(); a.dispose(); b.dispose();
  assert.equal(liveTensors(), start);
});

test('oodgen train --mutate: validated, recorded in config.json, and applied to the training batches', async () => {
  const o = await parseTrainOptions({ model: 'vae', data: 'noise:64', out: '/tmp/x', maxSteps: '2', mutate: '0.2' });
  assert.equal(o.mutate, 0.2);
  await assert.rejects(parseTrainOptions({ model: 'vae', data: 'noise:64', out: '/tmp/x', maxSteps: '2', mutate: '2' }), /--mutate must be a rate/);
  const dir = tempDir('mutate');
  const set = { images: new Float32Array(32 * 784).fill(0.5), shape: [32, 1, 28, 28] as [number, number, number, number], name: 'gray', source: 'mem' };
  const base = { model: { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4 } as const, trainSet: set, batchSize: 8, valFraction: 0, progress: 'none' as const, grids: false, maxSteps: 3, logEvery: 1, seed: 1 };
  await train({ ...base, out: join(dir, 'plain') });
  await train({ ...base, out: join(dir, 'mut'), mutate: 0.3 });
  assert.equal(JSON.parse(readFileSync(join(dir, 'mut', 'config.json'), 'utf8')).data.mutate, 0.3);
  assert.equal(JSON.parse(readFileSync(join(dir, 'plain', 'config.json'), 'utf8')).data.mutate, undefined);
  // Same initialisation and data order: the first step's loss differs only because the batch was mutated, and a
  // mutated constant image is further from the untrained decoder's output.
  const first = (run: string) => JSON.parse(readFileSync(join(dir, run, 'log.jsonl'), 'utf8').split('\n')[0]!);
  const p = first('plain'), m = first('mut');
  assert.ok(Number.isFinite(p.loss) && m.loss > p.loss, `loss ${p.loss} (plain) vs ${m.loss} (mutated)`);
});
