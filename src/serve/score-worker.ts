// A scoring worker (worker_threads): rebuilds the gate's scorer from the run folder and scores packed micro-batches
// posted by the HTTP thread, so that HTTP parsing and image decoding go on while a forward pass runs. The addon keeps
// a slot table per thread, so this thread's tensors never mix with the HTTP thread's; they are all freed here.
// Protocol (scoring-pool.ts is the other end):
//   in:  { type: 'score', id, buf (transferred), n, rec } | { type: 'live', id } | { type: 'close' }
//   out: { type: 'ready', settings } | { type: 'failed', message } | { type: 'scored', id, scores, rec? } |
//        { type: 'error', id, message } | { type: 'live', id, n }
import { parentPort, workerData } from 'node:worker_threads';
import { liveTensors, setNumThreads } from '../engine/index.js';
import { loadRun } from '../train/run.js';
import { loadDetectorState } from '../scores/state.js';
import { PerSampleScorer } from './scorer.js';
import { scorePacked, type GateSource } from './gate.js';

export interface WorkerInit { source: GateSource; threads?: number }

type In = { type: 'score'; id: number; buf: Float32Array; n: number; rec: boolean } | { type: 'live'; id: number } | { type: 'close' };

const port = parentPort!;
const { source, threads } = workerData as WorkerInit;
let scorer: PerSampleScorer | null = null;
try {
  // OpenMP's thread count is per calling thread: the HTTP thread's setting does not reach this one.
  if (threads !== undefined) setNumThreads(threads);
  const { model } = loadRun(source.checkpoint, { device: source.device, which: source.which });
  try {
    scorer = new PerSampleScorer(model, source.detector, { k: source.k, samples: source.samples, seed: source.seed });
    const det = scorer.detector;
    if (det.fit && !loadDetectorState(source.checkpoint, det)) throw new Error(`detector '${source.detector}' has no fitted state in ${source.checkpoint}`);
  } catch (e) {
    scorer?.dispose();
    model.dispose();
    throw e;
  }
  port.postMessage({ type: 'ready', settings: scorer.settings() });
} catch (e) {
  port.postMessage({ type: 'failed', message: (e as Error).message ?? String(e) });
  port.close();
}

if (scorer) {
  const s = scorer;
  const input = { channels: s.model.config.channels, size: s.model.config.imageSize };
  port.on('message', (m: In) => {
    if (m.type === 'score') {
      try {
        const r = scorePacked(s, input, m.buf, m.n, m.rec);
        const transfer = [...new Set([r.scores.buffer as ArrayBuffer, ...(r.reconstructions ? [r.reconstructions.buffer as ArrayBuffer] : [])])];
        port.postMessage({ type: 'scored', id: m.id, scores: r.scores, rec: r.reconstructions }, transfer);
      } catch (e) {
        port.postMessage({ type: 'error', id: m.id, message: (e as Error).message ?? String(e) });
      }
    } else if (m.type === 'live') {
      port.postMessage({ type: 'live', id: m.id, n: liveTensors() });
    } else if (m.type === 'close') {
      s.dispose();
      s.model.dispose();
      port.close();
    }
  });
}
