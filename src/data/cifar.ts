/**
 * CIFAR-10 binary batches (data_batch_1.bin ... data_batch_5.bin, test_batch.bin): records of 1 label byte
 * followed by 3072 pixel bytes (1024 R, 1024 G, 1024 B, each 32x32 row-major), which is already CHW.
 */
import { basename } from 'node:path';
import { OodgenError } from '../errors.js';
import { readBytes } from './files.js';
import type { ImageSet } from './types.js';

export const CIFAR_RECORD = 1 + 3 * 32 * 32;
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Checks one batch's bytes and returns its record count. */
export function checkCifarBatch(buf: Uint8Array, path: string): number {
  if (buf.length === 0) throw new OodgenError(`CIFAR-10 batch ${path}: file is empty`);
  if (buf.length % CIFAR_RECORD !== 0) {
    const whole = Math.floor(buf.length / CIFAR_RECORD);
    throw new OodgenError(
      `CIFAR-10 batch ${path}: size ${buf.length} bytes is not a multiple of ${CIFAR_RECORD} (1 label byte + 3072 pixel bytes); ` +
        `truncated after ${whole} records, or not a CIFAR-10 binary batch`,
    );
  }
  const n = buf.length / CIFAR_RECORD;
  for (let i = 0; i < n; i++) {
    const l = buf[i * CIFAR_RECORD]!;
    // A wrong file (CIFAR-100 with 2 label bytes, the Python pickle, an image) shows up as out-of-range labels.
    if (l > 9) {
      throw new OodgenError(`CIFAR-10 batch ${path}: record ${i} has label ${l}, outside 0-9; not a CIFAR-10 binary batch (CIFAR-100 and the Python version are different formats)`);
    }
  }
  return n;
}

/** Reads and concatenates batches (in the order given). */
export function loadCifarBatches(paths: string[], name: string): ImageSet {
  if (paths.length === 0) throw new OodgenError(`CIFAR-10: no batch files given for ${name}`);
  const bufs = paths.map((p) => readBytes(p, 'CIFAR-10 batch'));
  const counts = bufs.map((b, i) => checkCifarBatch(b, paths[i]!));
  const n = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(n * 3072);
  const labels = new Int32Array(n);
  let k = 0;
  for (const buf of bufs) {
    const m = buf.length / CIFAR_RECORD;
    for (let i = 0; i < m; i++, k++) {
      labels[k] = buf[i * CIFAR_RECORD]!;
      images.set(buf.subarray(i * CIFAR_RECORD + 1, (i + 1) * CIFAR_RECORD), k * 3072);
    }
  }
  return { images, shape: [n, 3, 32, 32], labels, name, source: paths.length === 1 ? paths[0]! : paths.map((p) => basename(p)).join(',') };
}
