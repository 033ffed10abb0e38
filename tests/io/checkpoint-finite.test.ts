// A checkpoint holding NaN or an infinity is refused with an error naming the file and the tensor (a model with a
// non-finite weight scores every image as NaN), unless the caller allows it explicitly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as E from '../../src/engine/index.js';
import { Linear } from '../../src/nn/index.js';
import { firstNonFinite, loadStateDict, loadTensors, saveStateDict, saveTensors } from '../../src/io/checkpoint.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { OodgenError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('finite');

test('a model checkpoint with one NaN weight is an OodgenError naming the file, the tensor and the index', () => {
  const start = E.liveTensors();
  const m = new Linear(3, 2);
  const path = join(dir, 'nan-model.safetensors');
  E.tidy(() => E.noGrad(() => E.copy_(m.weight, E.tensor(new Float32Array([1, 2, 3, 4, NaN, 6]), [2, 3]))));
  saveStateDict(path, m);
  const fresh = new Linear(3, 2);
  assert.throws(() => loadStateDict(path, fresh), (e: Error) => e instanceof OodgenError &&
    e.message.includes(path) && e.message.includes("tensor 'weight'") && /NaN at flat index 4/.test(e.message));
  // Nothing was copied into the module and no tensor was left behind.
  assert.ok(fresh.weight.toArray().every(Number.isFinite));
  const r = loadStateDict(path, fresh, { allowNonFinite: true });
  assert.deepEqual(r.missing, []);
  assert.ok(Number.isNaN(fresh.weight.toArray()[4]), 'allowNonFinite loads the value as it is');
  m.dispose(); fresh.dispose();
  assert.equal(E.liveTensors(), start);
});

test('every floating dtype: NaN, +Infinity and -Infinity are found at the right index; extreme finite values are not', () => {
  const start = E.liveTensors();
  // Finite in all four dtypes (65504 is float16's largest; 6e-8 a float16 subnormal, 1e-40 a float32 one).
  const finite = [0, -0, 1, -1, 65504, -65504, 6e-8, 1e-40];
  for (const dtype of ['float32', 'float64', 'float16', 'bfloat16'] as const) {
    for (const [bad, name] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity']] as const) {
      const path = join(dir, `${dtype}-${name}.safetensors`);
      const values = E.tidy(() => {
        const t = E.toDtype(E.tensor(new Float64Array([...finite, bad, 1]), [finite.length + 2], { dtype: 'float64' }), dtype);
        return E.keep(t);
      });
      const back = E.tidy(() => E.toDtype(values, 'float64').toArray());
      const expectIndex = back.findIndex((v) => !Number.isFinite(v));
      assert.equal(expectIndex, finite.length, `${dtype}: only the value put there is non-finite`);
      const ok = E.zeros([2], { dtype });
      saveTensors(path, new Map([['ok', ok], ['x', values]]));
      ok.dispose();
      const entry = readSafetensors(path).tensors.get('x')!;
      assert.deepEqual(firstNonFinite(entry), { index: expectIndex, value: Number.isNaN(back[expectIndex]) ? 'NaN' : back[expectIndex] > 0 ? 'Infinity' : '-Infinity' }, `${dtype} ${name}`);
      assert.throws(() => loadTensors(path), new RegExp(`tensor 'x' \\(shape \\[10\\], ${entry.dtype}\\)`));
      const { tensors } = loadTensors(path, { allowNonFinite: true });
      for (const t of tensors.values()) t.dispose();
      values.dispose();
    }
  }
  // A checkpoint that is finite (with ±0, subnormals, the largest values) loads.
  const path = join(dir, 'finite.safetensors');
  const extremes = [...finite, 1.7976931348623157e308, -1.7976931348623157e308, 5e-324];
  const t = E.tensor(new Float64Array(extremes), [extremes.length], { dtype: 'float64' });
  saveTensors(path, new Map([['f64', t]]));
  const { tensors } = loadTensors(path);
  assert.deepEqual(tensors.get('f64')!.toArray(), extremes);
  for (const x of tensors.values()) x.dispose();
  t.dispose();
  assert.equal(E.liveTensors(), start);
});

test('firstNonFinite agrees with Number.isFinite on random float32 data with NaN and Infinity sprinkled in', () => {
  const n = 5000;
  const buf = new Float32Array(n);
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let trial = 0; trial < 20; trial++) {
    for (let i = 0; i < n; i++) buf[i] = (rand() - 0.5) * 10 ** Math.floor(rand() * 70 - 35);
    const at = Math.floor(rand() * n);
    buf[at] = [NaN, Infinity, -Infinity][trial % 3];
    if (trial % 4 === 0) buf[at] = 3.4028234663852886e38; // max float32: finite, so nothing is found
    // At an odd byte offset, as entries of a file written by another tool may be.
    const bytes = new Uint8Array(n * 4 + 1).fill(0);
    bytes.set(new Uint8Array(buf.buffer), 1);
    const found = firstNonFinite({ dtype: 'F32', shape: [n], data: bytes.subarray(1) });
    const want = buf.findIndex((v) => !Number.isFinite(v));
    assert.equal(found === null ? -1 : found.index, want, `trial ${trial}`);
  }
});

test('a trained run whose model file got a NaN weight is refused by loadRun (the path of oodgen score) by file and tensor', async () => {
  const { train } = await import('../../src/train/trainer.js');
  const { loadRun } = await import('../../src/train/run.js');
  const { writeSafetensors } = await import('../../src/io/safetensors.js');
  const out = join(dir, 'run');
  const images = new Float32Array(16 * 32 * 32).map((_, i) => (i % 255) / 255);
  await train({
    out, model: { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 4, width: 8 },
    trainSet: { images, shape: [16, 1, 32, 32], name: 'tiny:train', source: 'test' },
    batchSize: 8, valFraction: 0.25, valLimit: 4, progress: 'none', patience: null, grids: false, seed: 1, maxSteps: 2,
  });
  const start = E.liveTensors();
  const file = join(out, 'model.safetensors');
  loadRun(out).model.dispose(); // loads while finite
  const f = readSafetensors(file);
  const name = [...f.tensors.keys()].find((k) => k.endsWith('weight') && f.tensors.get(k)!.dtype === 'F32')!;
  const entry = f.tensors.get(name)!;
  const data = new Uint8Array(entry.data);
  new DataView(data.buffer).setFloat32(4 * 3, NaN, true);
  f.tensors.set(name, { ...entry, data });
  writeSafetensors(file, f.tensors, f.metadata);
  assert.throws(() => loadRun(out), (e: Error) => e instanceof OodgenError && e.message.includes(file) &&
    e.message.includes(`tensor '${name}'`) && /NaN at flat index 3/.test(e.message));
  assert.equal(E.liveTensors(), start, 'the refused load frees the model it built');
});
