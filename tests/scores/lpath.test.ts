// LPath (u, v, w, s of the inference path) and its second stages against independent oracles: the statistics
// through the PyTorch reference model on the same weights (float64), COPOD against a NumPy transcription of Li et
// al.'s Algorithm 1, the Mahalanobis stage against scikit-learn's LedoitWolf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensors, fill_, noGrad } from '../../src/engine/index.js';
import { Rng } from '../../src/data/rng.js';
import { lpathStatistics, fitLpath, scoreLpath, LPATH_STATS } from '../../src/scores/lpath.js';
import { fitCopod, scoreCopod } from '../../src/scores/copod.js';
import { OodgenError } from '../../src/errors.js';
import { assertClose, blobs, exportModel, exportTensors, oracle, rows, skipNoTorch, tinyModel, tmp } from './oracle-helpers.js';

const cases = [
  { decoder: 'gaussian' }, { decoder: 'gaussian', sigma2: 'learned' }, { decoder: 'bernoulli' }, { decoder: 'categorical' },
] as const;

for (const c of cases) {
  test(`u, v, w, s equal PyTorch on the same weights (${c.decoder}${'sigma2' in c ? ', learned variance' : ''})`, { skip: skipNoTorch }, () => {
    const start = liveTensors();
    const dir = tmp();
    const model = tinyModel(c as never, 3);
    const ls = (model as { logSigma2?: import('../../src/engine/index.js').Tensor | null }).logSigma2;
    if (ls) noGrad(() => fill_(ls, -1.3)); // a non-trivial learned variance
    const x = blobs(6);
    const stats = lpathStatistics(model, x);
    const ref = oracle(dir, { cmd: 'lpath-stats', ...exportModel(dir, 'm', model), x: exportTensors(dir, 'x', { x }) });
    for (const k of LPATH_STATS) assertClose(stats[k], ref[k]!, { rel: 1e-4, abs: 1e-5 }, k);
    if (c.decoder === 'gaussian') assert.ok(stats.s.every((v) => Math.abs(v - stats.s[0]!) < 1e-4), 's is constant for a global / per-channel variance');
    x.dispose();
    model.dispose();
    assert.equal(liveTensors(), start);
  });
}

test('two-model variant: u and s from the small-latent model, v and w from the large one', { skip: skipNoTorch }, () => {
  const dir = tmp();
  const small = tinyModel({ zDim: 2 }, 4), large = tinyModel({ zDim: 64 }, 5);
  const x = blobs(5, 7);
  const st = lpathStatistics(small, x, large);
  const ref = oracle(dir, {
    cmd: 'lpath-stats', ...exportModel(dir, 'a', small), x: exportTensors(dir, 'x', { x }),
    weights2: exportModel(dir, 'b', large).weights, config2: large.config,
  });
  for (const k of LPATH_STATS) assertClose(st[k], ref[k]!, { rel: 1e-4, abs: 1e-5 }, k);
  x.dispose(); small.dispose(); large.dispose();
});

function skewedData(n: number, seed: number): Record<string, Float64Array> {
  const r = new Rng(seed);
  const cols = { u: new Float64Array(n), v: new Float64Array(n), w: new Float64Array(n), s: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    cols.u[i] = Math.exp(0.5 * r.normal()) * 10; // right-skewed
    cols.v[i] = 5 - Math.exp(0.7 * r.normal()); // left-skewed
    cols.w[i] = 2 + 0.3 * r.normal();
    cols.s[i] = 3 + r.next() + 0.5 * cols.w[i]!; // correlated with w
  }
  return cols;
}

test('COPOD equals a NumPy transcription of Li et al. 2020 (each point scored as if appended to the training set)', { skip: skipNoTorch }, () => {
  const train = skewedData(300, 1), probe = skewedData(15, 2);
  // Outliers in each tail and at a training value (ties).
  const extra = [[60, 5, 2, 4], [1, -20, 2, 4], [10, 4, 4.5, 7], [train.u[0]!, train.v[0]!, train.w[0]!, train.s[0]!]];
  const testRows = [...rows(probe, LPATH_STATS), ...extra];
  const trainRows = rows(train, LPATH_STATS);
  const st = fitCopod(trainRows.flat(), 300, 4);
  const mine = scoreCopod(st, testRows.flat(), testRows.length);
  const ref = oracle(tmp(), { cmd: 'copod', train: trainRows, test: testRows });
  assertClose(mine, ref.score!, { abs: 1e-9, rel: 1e-9 }, 'COPOD');
  assert.ok(mine[15]! > Math.max(...mine.slice(0, 15)) && mine[16]! > Math.max(...mine.slice(0, 15)), 'tail outliers score highest');
});

test('fitLpath drops constant statistics; the Mahalanobis stage equals scikit-learn LedoitWolf', { skip: skipNoTorch }, () => {
  const train = skewedData(400, 3), probe = skewedData(12, 4);
  train.s.fill(7.5);
  probe.s.fill(7.5);
  const st = fitLpath(train, 'mahalanobis');
  assert.deepEqual(st.dropped, ['s']);
  const ref = oracle(tmp(), { cmd: 'mahalanobis', train: rows(train, ['u', 'v', 'w']), test: rows(probe, ['u', 'v', 'w']) });
  assertClose(scoreLpath(st, probe), ref.score!, { rel: 1e-8, abs: 1e-9 }, 'mahalanobis');
  const sc = fitLpath(train, 'copod');
  assert.equal(scoreLpath(sc, probe).length, 12);
  assert.throws(() => fitLpath(train, 'svm' as never), OodgenError);
});
