/**
 * CIFAR binary records, both versions: label byte(s) followed by 3072 pixel bytes (1024 R, 1024 G, 1024 B, each
 * 32x32 row-major), which is already CHW.
 * - CIFAR-10 (data_batch_1.bin ... data_batch_5.bin, test_batch.bin): 1 label byte, 0-9.
 * - CIFAR-100 (cifar-100-binary/train.bin, test.bin): a coarse label byte (20 superclasses) then a fine label byte
 *   (100 classes). The fine label is the one kept: ImageSet has a single `labels` array and every consumer reads it
 *   as the class, so the coarse superclass is checked for range but not returned.
 * The two record sizes (3073, 3074) are coprime, so a real file of one version (10,000 or 50,000 records) is never a
 * whole number of records of the other: the size check tells them apart, and the label range catches the rest.
 */
import { basename } from 'node:path';
import { OodgenError } from '../errors.js';
import { readBytes } from './files.js';
import type { ImageSet } from './types.js';

const PIXELS = 3 * 32 * 32;

export interface CifarFormat {
  /** 'CIFAR-10' or 'CIFAR-100', for messages. */
  title: string;
  /** Name of each label byte, in record order, and its class count. */
  labelBytes: { name: string; classes: number }[];
  /** Which label byte becomes ImageSet.labels. */
  keep: number;
  classes: string[];
}

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** The fine labels 0-99, as in the archive's fine_label_names.txt. */
export const CIFAR100_CLASSES = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle', 'bowl', 'boy', 'bridge', 'bus',
  'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle', 'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch',
  'crab', 'crocodile', 'cup', 'dinosaur', 'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house',
  'kangaroo', 'keyboard', 'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle',
  'mountain', 'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket', 'rose', 'sea', 'seal', 'shark',
  'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider', 'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table',
  'tank', 'telephone', 'television', 'tiger', 'tractor', 'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree',
  'wolf', 'woman', 'worm',
];

export const CIFAR10: CifarFormat = { title: 'CIFAR-10', labelBytes: [{ name: 'label', classes: 10 }], keep: 0, classes: CIFAR10_CLASSES };
export const CIFAR100: CifarFormat = {
  title: 'CIFAR-100', labelBytes: [{ name: 'coarse label', classes: 20 }, { name: 'fine label', classes: 100 }], keep: 1, classes: CIFAR100_CLASSES,
};

export function recordSize(f: CifarFormat): number {
  return f.labelBytes.length + PIXELS;
}

/** CIFAR-10's record size, 3073 bytes. */
export const CIFAR_RECORD = recordSize(CIFAR10);

function otherFormat(f: CifarFormat): CifarFormat {
  return f === CIFAR10 ? CIFAR100 : CIFAR10;
}

/** Throws unless `size` bytes is a whole, non-zero number of `f`'s records; says so when it fits the other version. */
export function checkCifarSize(size: number, path: string, f: CifarFormat = CIFAR10): number {
  const rec = recordSize(f);
  if (size === 0) throw new OodgenError(`${f.title} batch ${path}: file is empty`);
  if (size % rec !== 0) {
    const o = otherFormat(f);
    const orec = recordSize(o);
    const hint = size % orec === 0
      ? `; its size is ${size / orec} records of ${orec} bytes, the ${o.title} layout: a ${o.title} file given as ${f.title}?`
      : `; truncated after ${Math.floor(size / rec)} records, or not a ${f.title} binary batch`;
    throw new OodgenError(
      `${f.title} batch ${path}: size ${size} bytes is not a multiple of ${rec} (${f.labelBytes.length} label byte${f.labelBytes.length > 1 ? 's' : ''} + 3072 pixel bytes)${hint}`,
    );
  }
  return size / rec;
}

/** Checks one batch's bytes (size and every label byte's range) and returns its record count. */
export function checkCifarBatch(buf: Uint8Array, path: string, f: CifarFormat = CIFAR10): number {
  const n = checkCifarSize(buf.length, path, f);
  const rec = recordSize(f);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < f.labelBytes.length; j++) {
      const l = buf[i * rec + j]!;
      const lb = f.labelBytes[j]!;
      // A wrong file (the other CIFAR version, the Python pickle, an image) shows up as out-of-range labels.
      if (l >= lb.classes) {
        throw new OodgenError(
          `${f.title} batch ${path}: record ${i} has ${lb.name} ${l}, outside 0-${lb.classes - 1}; not a ${f.title} binary batch ` +
            `(${otherFormat(f).title} and the Python version are different formats)`,
        );
      }
    }
  }
  return n;
}

/** Images and kept labels of checked batches, concatenated in the order given. */
export function cifarSet(parts: { data: Uint8Array; path: string }[], f: CifarFormat, name: string, source: string): ImageSet {
  const rec = recordSize(f);
  const n = parts.reduce((a, p) => a + checkCifarBatch(p.data, p.path, f), 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let k = 0;
  for (const { data } of parts) {
    const m = data.length / rec;
    for (let i = 0; i < m; i++, k++) {
      labels[k] = data[i * rec + f.keep]!;
      images.set(data.subarray(i * rec + f.labelBytes.length, (i + 1) * rec), k * PIXELS);
    }
  }
  return { images, shape: [n, 3, 32, 32], labels, name, source };
}

/** Reads and concatenates batches (in the order given). */
export function loadCifarBatches(paths: string[], name: string, f: CifarFormat = CIFAR10): ImageSet {
  if (paths.length === 0) throw new OodgenError(`${f.title}: no batch files given for ${name}`);
  const parts = paths.map((p) => ({ data: readBytes(p, `${f.title} batch`), path: p }));
  return cifarSet(parts, f, name, paths.length === 1 ? paths[0]! : paths.map((p) => basename(p)).join(','));
}
