// The addon under worker_threads: each Node environment has its own slot table, so threads using the addon at the
// same time never see each other's handles, counts or reallocations, and a worker's tensors go when it exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { addonPath } from '../../src/engine/native.js';
// @ts-expect-error plain JavaScript shared with the workers
import { hammer } from './threads-hammer.mjs';

const addon = process.env.OODGEN_FUZZ_ADDON ?? addonPath();
const skip = addon ? false : 'the native addon is not built';

test('main thread and three workers use the addon at once without crossed handles or leaks', { skip }, async () => {
  const n = createRequire(import.meta.url)(addon!);
  const barrier = new SharedArrayBuffer(4);
  const workers = [1, 2, 3].map((seed) => new Worker(new URL('./threads-worker.mjs', import.meta.url), {
    workerData: { addon, iterations: 4000, seed: seed * 1000, barrier, leaveLive: seed === 3 ? 100 : 0 },
  }));
  const ready = workers.map((w) => new Promise((resolve) => w.once('message', resolve)));
  const messages = workers.map((w) => new Promise<Record<string, number>[]>((resolve, reject) => {
    const msgs: Record<string, number>[] = [];
    w.on('message', (m) => msgs.push(m));
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 ? resolve(msgs) : reject(new Error(`worker exited with ${code}`))));
  }));
  // Every worker has loaded the addon; then all are released at once and this thread works too.
  await Promise.all(ready);
  const start = n.liveTensors();
  Atomics.store(new Int32Array(barrier), 0, 1);
  Atomics.notify(new Int32Array(barrier), 0);
  const mine = hammer(n, 4000, 7);
  const results = await Promise.all(messages);
  assert.equal(mine.wrong, 0, 'main thread results');
  assert.equal(mine.live, start, 'main thread live count back to its start');
  for (const [i, msgs] of results.entries()) {
    const [ready, end] = msgs;
    assert.equal(ready.live, 0, `worker ${i} starts with an empty table of its own`);
    assert.equal(end.wrong, 0, `worker ${i} results`);
    assert.equal(end.live, 0, `worker ${i} live count back to zero`);
    assert.equal(end.liveAtEnd, i === 2 ? 100 : 0);
  }
  assert.equal(n.liveTensors(), start, "workers' handles never count on the main thread");
});
