// Scoring in a worker_threads Worker (scoring-pool.ts, score-worker.ts): the worker's answers are the gate's own,
// independent of batch-mates; a worker that dies costs its batch a clean 503 and is replaced; a worker that cannot
// be replaced leaves a server that answers 503 (and /healthz 503) instead of hanging or crashing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { liveTensors } from '../../src/engine/index.js';
import { openGate, buildServer, scoringPool, type Gate } from '../../src/serve/index.js';
import { blobs, noise, encodeImage, tinyRun, type TinyRun } from './helpers.js';

let run: TinyRun;
let gate: Gate;
const pngs: Buffer[] = [];
const inputs: Float32Array[] = [];
before(async () => {
  run = await tinyRun();
  // ELBO with its fixed posterior-noise bank: the worker must rebuild the very same bank from the seed.
  gate = await openGate({ checkpoint: run.dir, detector: 'elbo', calibrate: blobs(32, 7), samples: 2 });
  const id = blobs(4, 9), ood = noise(4, 3);
  for (const [set, i] of [[id, 0], [id, 1], [id, 2], [ood, 0], [ood, 1], [id, 3]] as const) {
    pngs.push(await encodeImage(set, i));
    inputs.push((set.images as Float32Array).slice(i * 784, (i + 1) * 784));
  }
});
after(() => {
  gate.dispose();
  run.cleanup();
});

const post = (address: string, png: Buffer) =>
  fetch(`${address}/v1/score`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png) });
const scoreOf = async (r: Response) => ((await r.json()) as { results: { score: number }[] }).results[0]!.score;

test('a scoring worker answers as the gate does on this thread, whatever the batch-mates', async () => {
  // Each image alone, on this thread (1 libtorch thread there vs the default here: summation order may differ).
  const alone = inputs.map((x) => gate.scoreBatch([x]).scores[0]!);
  const app = await buildServer(gate, { workers: 1, maxBatch: 8, maxWaitMs: 50 });
  const inline = await buildServer(gate, { maxBatch: 8, maxWaitMs: 1 });
  assert.equal(scoringPool(inline), null);
  const pool = scoringPool(app)!;
  assert.equal(pool.size, 1);
  try {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const batched = await Promise.all(pngs.map((p) => post(address, p).then(scoreOf))); // one micro-batch of 6
    const single = [];
    for (const p of pngs) single.push(await post(address, p).then(scoreOf)); // six batches of 1
    const m = await (await fetch(`${address}/metrics`)).text();
    assert.match(m, /oodgen_batch_size_bucket\{le="8"\} 7\b/);
    assert.match(m, /oodgen_batch_size_sum 12\b/);
    for (let i = 0; i < pngs.length; i++) {
      assert.equal(batched[i], single[i], `image ${i}: batch-mates changed the worker's answer`);
      assert.ok(Math.abs(batched[i]! - alone[i]!) <= 1e-5 * Math.max(1, Math.abs(alone[i]!)), `image ${i}: worker ${batched[i]} vs this thread ${alone[i]}`);
      const r = await inline.inject({ method: 'POST', url: '/v1/score', payload: pngs[i]!, headers: { 'content-type': 'image/png' } });
      assert.equal(r.json().results[0].score, alone[i]);
    }
    assert.ok(batched[3]! > gate.threshold && batched[0]! < gate.threshold, 'noise flagged, blob passed');
  } finally {
    await app.close();
    await inline.close();
  }
  assert.equal(pool.workers.length, 0, 'the worker exited on close');
});

test('a worker that dies mid-batch: its requests get 503, a new worker takes over, nothing leaks', async () => {
  const base = liveTensors();
  const app = await buildServer(gate, { workers: 1, maxBatch: 8, maxWaitMs: 1 });
  try {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const pool = scoringPool(app)!;
    const before = await post(address, pngs[0]!).then(scoreOf);
    const workerBase = await pool.liveTensors();
    // The next batch never reaches the worker: it is killed instead, as a crash while scoring would.
    const w = pool.workers[0]! as Worker & { postMessage(m: { type: string }, t?: unknown): void };
    const send = w.postMessage.bind(w);
    w.postMessage = (m: { type: string }, t?: unknown) => (m.type === 'score' ? void w.terminate() : send(m, t as never));
    const r = await post(address, pngs[0]!);
    assert.equal(r.status, 503);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'scorer_unavailable');
    assert.match(body.error.message, /scoring worker stopped .* not scored, retry/);
    // Requests sent while the new worker loads wait for it.
    const again = await post(address, pngs[0]!);
    assert.equal(again.status, 200);
    assert.equal(await scoreOf(again), before);
    assert.notEqual(pool.workers[0], w);
    assert.equal(await pool.liveTensors(), workerBase, "the new worker holds what the old one did");
    const m = await (await fetch(`${address}/metrics`)).text();
    assert.match(m, /oodgen_worker_restarts_total 1\b/);
    assert.match(m, /oodgen_requests_total\{route="\/v1\/score",status="503"\} 1\b/);
    assert.equal((await fetch(`${address}/healthz`)).status, 200);
  } finally {
    await app.close();
  }
  assert.equal(liveTensors(), base);
});

test('a worker that cannot be restarted: every request gets 503, healthz says why, the server still closes', async () => {
  // A copy of the run whose weights go bad after the server started, so the replacement worker cannot load them.
  const dir = join(run.root, 'copy');
  cpSync(run.dir, dir, { recursive: true });
  const g = await openGate({ checkpoint: dir, detector: 'elbo', samples: 2 });
  const app = await buildServer(g, { workers: 1, maxBatch: 8, maxWaitMs: 1 });
  try {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    assert.equal((await post(address, pngs[0]!)).status, 200);
    writeFileSync(join(dir, 'model.safetensors'), 'not a safetensors file');
    const pool = scoringPool(app)!;
    const exited = new Promise((resolve) => pool.workers[0]!.once('exit', resolve));
    await pool.workers[0]!.terminate();
    await exited;
    for (let i = 0; i < 3; i++) {
      const r = await post(address, pngs[1]!);
      assert.equal(r.status, 503);
      const body = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'scorer_unavailable');
      assert.match(body.error.message, /cannot score now: the scoring worker could not start: .*model\.safetensors/);
    }
    const h = await fetch(`${address}/healthz`);
    assert.equal(h.status, 503);
    assert.equal(((await h.json()) as { status: string }).status, 'unavailable');
    assert.equal((await fetch(`${address}/v1/info`)).status, 200);
  } finally {
    await app.close();
    g.dispose();
  }
});

test('a worker that cannot load the model fails buildServer with the cause', async () => {
  const dir = join(run.root, 'copy2');
  cpSync(run.dir, dir, { recursive: true });
  const g = await openGate({ checkpoint: dir, detector: 'elbo', samples: 2 });
  try {
    writeFileSync(join(dir, 'model.safetensors'), 'x');
    await assert.rejects(buildServer(g, { workers: 1 }), /scoring worker could not start: .*model\.safetensors/);
    await assert.rejects(buildServer(g, { workers: -1 }), /scoring workers must be an integer >= 0, got -1/);
  } finally {
    g.dispose();
  }
});
