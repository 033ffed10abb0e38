// Synchronous lossless compression through sharp, for input-complexity's evaluate() (the detector contract's
// evaluate is synchronous, sharp is asynchronous only). One worker thread runs sharp; the calling thread posts a
// batch and blocks on Atomics.wait until the worker has answered, then reads the answer with
// receiveMessageOnPort. The worker is unref'd, so it never keeps the process alive.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { OodgenError } from '../errors.js';

const WORKER = `
const { workerData } = require('node:worker_threads');
const sharp = require(workerData.sharpPath);
const { port, flag } = workerData;
port.on('message', async (m) => {
  let reply;
  try {
    const lens = await Promise.all(m.images.map((b) => {
      const img = sharp(Buffer.from(b.buffer, b.byteOffset, b.byteLength), { raw: m.raw });
      const out = m.compressor === 'png'
        ? img.png({ compressionLevel: 9, adaptiveFiltering: true, palette: false })
        : img.webp({ lossless: true, effort: 6 });
      return out.toBuffer().then((x) => x.length);
    }));
    reply = { lens };
  } catch (e) {
    reply = { error: String(e && e.message || e) };
  }
  port.postMessage(reply);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});`;

let worker: { port: MessagePort; flag: Int32Array } | null = null;

function start(): { port: MessagePort; flag: Int32Array } {
  if (worker) return worker;
  const sharpPath = createRequire(import.meta.url).resolve('sharp');
  const { port1, port2 } = new MessageChannel();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(WORKER, { eval: true, workerData: { sharpPath, port: port2, flag }, transferList: [port2] });
  w.unref();
  port1.unref();
  w.on('error', () => { worker = null; });
  worker = { port: port1, flag };
  return worker;
}

/**
 * Compressed byte lengths of 8-bit HWC images (each width x height x channels bytes), PNG level 9 with adaptive
 * filtering or lossless WebP (effort 6), exactly as input-complexity.ts compressImage.
 */
export function compressedLengthsSync(images: Uint8Array[], raw: { width: number; height: number; channels: 1 | 3 }, compressor: 'png' | 'webp'): number[] {
  const w = start();
  Atomics.store(w.flag, 0, 0);
  w.port.postMessage({ images, raw, compressor });
  // 60 s per batch at most: a stuck worker is an error, never a hang.
  if (Atomics.wait(w.flag, 0, 0, 60_000) === 'timed-out') throw new OodgenError('input-complexity: the compression worker did not answer within 60 s');
  const m = receiveMessageOnPort(w.port)?.message as { lens?: number[]; error?: string } | undefined;
  if (!m || m.error || !m.lens) throw new OodgenError(`input-complexity: compression failed (${m?.error ?? 'no answer'})`);
  return m.lens;
}
