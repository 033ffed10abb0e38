// One rank (or the single process) of the data-parallel tests (tests/train/ddp.test.ts). Started as a child process
// with the torchrun-style environment; writes its result as JSON to argv[3] (rank 0, or the single process).
//   collectives | die | equiv <B per rank> <adam|sgd> | score | evaluate
import { writeFileSync } from 'node:fs';
import { distEnvFromProcess, ProcessGroup } from '../../src/engine/distributed.js';
import { DataParallel } from '../../src/train/ddp.js';
import { withShardedScoring } from '../../src/scores/sharded.js';
import { Generator, tensor, tidy, liveTensors, fromTypedArray, setNumThreads } from '../../src/engine/index.js';
import { sub, square, mean } from '../../src/engine/ops/index.js';
import { Linear, Sequential, Tanh } from '../../src/nn/index.js';
import { Adam, SGD } from '../../src/optim/index.js';
import { epochOrder } from '../../src/data/batches.js';
import { createModel } from '../../src/models/factory.js';
import { createDetector, scoreDataset } from '../../src/scores/index.js';
import { evaluate } from '../../src/ood/evaluate.js';

setNumThreads(1);
const [mode, outPath, arg, optName] = process.argv.slice(2);
const env = distEnvFromProcess();
const pg = env ? ProcessGroup.init(env, { timeoutMs: Number(process.env.TEST_TIMEOUT_MS ?? 20000) }) : null;
const lead = !pg || pg.rank === 0;
const write = (o: unknown): void => { if (lead) writeFileSync(outPath!, JSON.stringify(o)); };

/** Deterministic pseudo-random floats (a closed-form hash, the same on every rank). */
const synth = (n: number, salt: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + salt * 78.233) * 0.5);

if (mode === 'collectives') {
  const r = pg!.rank;
  const a = tensor([r + 1, 10 * (r + 1)]);
  pg!.allreduce(a, 'sum');
  const m = tensor([r, -r]);
  pg!.allreduce(m, 'max');
  const b = tensor([r * 5 + 1]);
  pg!.broadcast(b, 1);
  const g = pg!.allgather(tensor([r, r * r]));
  pg!.barrier();
  write({ sum: a.toArray(), max: m.toArray(), bcast: b.toArray(), gather: g.map((t) => t.toArray()) });
} else if (mode === 'die') {
  pg!.barrier();
  if (pg!.rank === 1) process.exit(7);
  try {
    const t = tensor([1, 2, 3]);
    for (let i = 0; i < 3; i++) pg!.allreduce(t);
    write({ error: null });
  } catch (e) {
    write({ error: (e as Error).message, name: (e as Error).name });
    process.exit(3);
  }
} else if (mode === 'equiv') {
  // A BatchNorm-free MLP regression: N ranks x B per rank against one process x N*B, 20 Adam steps.
  const perRank = Number(arg);
  const ddp = pg ? new DataParallel(pg) : null;
  const world = ddp?.worldSize ?? 1;
  const n = 256, d = 16;
  const X = synth(n * d, 1), Y = synth(n * 4, 2);
  const live0 = liveTensors();
  const model = new Sequential(new Linear(d, 32, { generator: Generator.cpu(3) }), new Tanh(), new Linear(32, 4, { generator: Generator.cpu(4) }));
  // SGD catches a wrong gradient scale (sum instead of mean); Adam, nearly scale-invariant, would not.
  const opt = optName === 'sgd' ? new SGD(model.parameters(), { lr: 0.2 }) : new Adam(model.parameters(), { lr: 1e-2 });
  ddp?.wrap(model, { main: opt });
  const base = Int32Array.from({ length: n }, (_, i) => i);
  const stepsPerEpoch = ddp ? ddp.stepsPerEpoch(n, perRank) : Math.floor(n / perRank);
  for (let step = 0; step < 20; step++) {
    const epoch = Math.floor(step / stepsPerEpoch), k = step % stepsPerEpoch;
    const order = epochOrder(base, true, 11, epoch);
    const idx = ddp ? ddp.batchIndex(order, k, perRank) : order.subarray(k * perRank, (k + 1) * perRank);
    tidy(() => {
      const xb = new Float32Array(idx.length * d), yb = new Float32Array(idx.length * 4);
      idx.forEach((j, i) => { xb.set(X.subarray(j * d, (j + 1) * d), i * d); yb.set(Y.subarray(j * 4, (j + 1) * 4), i * 4); });
      const x = fromTypedArray(xb, [idx.length, d]);  // (B, d)
      const y = fromTypedArray(yb, [idx.length, 4]);  // (B, 4)
      opt.zeroGrad();
      const loss = mean(square(sub(model.forward(x), y)));
      loss.backward();
      opt.step();
      opt.zeroGrad();
    });
  }
  const weights = model.parameters().map((p) => Array.from(p.toFloat32Array()));
  opt.dispose();
  model.dispose();
  write({ world, weights, leaked: liveTensors() - live0 });
} else if (mode === 'score') {
  // IWAE (stochastic) with BatchNorm batch statistics in the encoder: sharded must equal single-process exactly.
  const model = createModel({ kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4 }, { generator: Generator.cpu(5) });
  const n = 45;
  const images = Float32Array.from(synth(n * 28 * 28, 3), (v) => v + 0.5);
  const det = createDetector('iwae', model, { k: 3, seed: 9 });
  // A second set scored after the first with the same detector continues its noise stream (as oodgen eval does).
  const images2 = Float32Array.from(synth(23 * 28 * 28, 4), (v) => v + 0.5);
  const [r, r2] = await withShardedScoring(pg, async () => [
    scoreDataset(det, { images, shape: [n, 1, 28, 28], name: 'synth' }, { batchSize: 10, bn: 'enc' }),
    scoreDataset(det, { images: images2, shape: [23, 1, 28, 28], name: 'synth2' }, { batchSize: 10, bn: 'enc' }),
  ]);
  write({ score: Array.from(r!.score), columns: Object.fromEntries(Object.entries(r!.columns).map(([k, v]) => [k, Array.from(v)])), score2: Array.from(r2!.score) });
} else if (mode === 'evaluate') {
  // The OoD pipeline (what `oodgen eval` runs) with the group passed in: stochastic detectors, BN batch statistics,
  // a short last batch, two sets. Every rank gets the whole table; it must equal one process's.
  const model = createModel({ kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 4 }, { generator: Generator.cpu(6) });
  const set = (n: number, salt: number, name: string) => ({ images: Float32Array.from(synth(n * 28 * 28, salt), (v) => v + 0.5), shape: [n, 1, 28, 28] as [number, number, number, number], name });
  // A ready-made iwae that counts the batches it scores on this rank (sharding must split them).
  const iwae = createDetector('iwae', model, { k: 3, seed: 4 });
  const evaluateBatch = iwae.evaluate.bind(iwae);
  let batches = 0;
  iwae.evaluate = (x) => { batches++; return evaluateBatch(x); };
  const r = await evaluate({
    model, detectors: [iwae, 'elbo'], id: set(33, 5, 'id'), ood: [set(21, 6, 'ood')], bn: ['eval', 'enc'],
    detectorOptions: { k: 3 }, batchSize: 10, seed: 4, bootstrap: 0, progressBars: false, processGroup: pg,
  });
  const raw = Object.fromEntries(Object.entries(r.raw).map(([d, byBn]) => [d, Object.fromEntries(Object.entries(byBn).map(([bn, res]) => [bn, res.map((x) => Array.from(x.score))]))]));
  writeFileSync(`${outPath}.batches${pg?.rank ?? 0}`, String(batches));
  write({ rows: r.rows.map((row) => ({ score: row.score, bn: row.bn, ood: row.ood, AUROC: row.AUROC, FPR95TPR: row.FPR95TPR, meanId: row.meanId })), raw });
  model.dispose();
} else {
  throw new Error(`unknown mode ${mode}`);
}
pg?.destroy();
