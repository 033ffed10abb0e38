// Worker of threads.test.ts: hammers its own slot table (create, compute, read back, dispose, and a pool of held
// handles that grows and shrinks so the table reallocates) while the main thread and other workers do the same.
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { hammer } from './threads-hammer.mjs';

const n = createRequire(import.meta.url)(workerData.addon);
const go = new Int32Array(workerData.barrier);
parentPort.postMessage({ ready: true, live: n.liveTensors() });
Atomics.wait(go, 0, 0);
const result = hammer(n, workerData.iterations, workerData.seed);
if (workerData.leaveLive) {
  // Exits with handles still live: the environment's teardown frees them, and no other thread's count moves.
  for (let i = 0; i < workerData.leaveLive; i++) n.fromBuffer(new Float32Array(4), [4], 6);
}
parentPort.postMessage({ ...result, liveAtEnd: n.liveTensors() });
