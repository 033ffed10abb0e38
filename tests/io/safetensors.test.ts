import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { OodgenError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import {
  fromTypedArray, parseSafetensors, readSafetensors, serializeSafetensors, toFloat32, toTypedArray, writeSafetensors,
  type StTensor,
} from '../../src/io/safetensors.js';

const PY = '/usr/bin/python3';
const ROOT = new URL('../..', import.meta.url).pathname;
const ST_IO = join(ROOT, 'scripts/py/st_io.py');

function tmp(): string {
  return tempDir('st');
}

function sample(): Record<string, StTensor> {
  return {
    'enc.0.weight': fromTypedArray(Float32Array.from([1.5, -2, 3.25, 0, 1e-30, -0]), [2, 3]),
    'd': fromTypedArray(Float64Array.from([Math.PI, -Math.E]), [2]),
    'steps': fromTypedArray(BigInt64Array.from([123456789012345n]), []),
    'idx': fromTypedArray(Int32Array.from([-1, 2, 3, 4]), [2, 2]),
    'i16': fromTypedArray(Int16Array.from([-300, 300]), [2]),
    'i8': fromTypedArray(Int8Array.from([-5]), [1]),
    'u8': fromTypedArray(Uint8Array.from([0, 255, 7]), [3]),
    'mask': fromTypedArray(Uint8Array.from([1, 0]), [2], 'BOOL'),
    'half': fromTypedArray(Uint16Array.from([0x3c00, 0xc000]), [2], 'F16'), // 1, -2
    'bhalf': fromTypedArray(Uint16Array.from([0x3f80, 0x4040]), [2], 'BF16'), // 1, 3
    'empty': fromTypedArray(new Float32Array(0), [0, 4]),
  };
}

/** Builds a file from a raw header object and data bytes (no validation) for corruption tests. */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const h = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test('round trip: every dtype, metadata, scalars and empty tensors', () => {
  const dir = tmp();
  try {
    const p = join(dir, 'a.safetensors');
    const ts = sample();
    writeSafetensors(p, ts, { format: 'pt', note: 'hé' });
    const { tensors, metadata } = readSafetensors(p);
    assert.deepEqual(metadata, { format: 'pt', note: 'hé' });
    assert.deepEqual([...tensors.keys()].sort(), Object.keys(ts).sort());
    for (const [k, v] of Object.entries(ts)) {
      const got = tensors.get(k)!;
      assert.equal(got.dtype, v.dtype, k);
      assert.deepEqual(got.shape, v.shape, k);
      assert.deepEqual([...got.data], [...v.data], k);
    }
    assert.deepEqual([...(toTypedArray(tensors.get('enc.0.weight')!) as Float32Array)], [1.5, -2, 3.25, 0, Math.fround(1e-30), -0]);
    assert.deepEqual([...(toTypedArray(tensors.get('steps')!) as BigInt64Array)], [123456789012345n]);
    assert.deepEqual([...toFloat32(tensors.get('half')!)], [1, -2]);
    assert.deepEqual([...toFloat32(tensors.get('bhalf')!)], [1, 3]);
    // data section is 8-byte aligned, header padded with spaces, no temp files left behind
    const raw = readFileSync(p);
    const n = Number(raw.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    assert.deepEqual(readdirSync(dir), ['a.safetensors']);
    // deterministic: Map vs Record and insertion order do not matter
    const rev = new Map(Object.entries(ts).reverse());
    assert.deepEqual(serializeSafetensors(rev, { format: 'pt', note: 'hé' }), new Uint8Array(raw));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('toTypedArray copies misaligned data; fromTypedArray validates', () => {
  const buf = new Uint8Array(9);
  new Float32Array(buf.buffer, 0, 2).set([1, 2]);
  const shifted = new Uint8Array(9);
  shifted.set(buf.subarray(0, 8), 1);
  const t: StTensor = { dtype: 'F32', shape: [2], data: shifted.subarray(1) };
  assert.deepEqual([...(toTypedArray(t) as Float32Array)], [1, 2]);
  assert.throws(() => fromTypedArray(Float32Array.from([1, 2]), [3]), OodgenError);
  assert.throws(() => fromTypedArray(Float32Array.from([1]), [1], 'F64'), OodgenError);
  assert.throws(() => serializeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Uint8Array(4) } }), OodgenError);
});

test('corrupted files are refused with an OodgenError naming the file', () => {
  const dir = tmp();
  try {
    const good = serializeSafetensors({ a: fromTypedArray(Float32Array.from([1, 2]), [2]), b: fromTypedArray(Float32Array.from([3]), [1]) });
    const f32x2 = new Uint8Array(new Float32Array([1, 2]).buffer);
    const hugeHeader = good.slice();
    new DataView(hugeHeader.buffer).setBigUint64(0, 200n * 1024n * 1024n, true);
    const beyond = good.slice();
    new DataView(beyond.buffer).setBigUint64(0, BigInt(good.length), true);
    const cases: [string, Uint8Array, RegExp][] = [
      ['short', new Uint8Array([1, 2, 3]), /shorter than the 8-byte/],
      ['empty', new Uint8Array(0), /shorter than the 8-byte/],
      ['absurd', hugeHeader, /absurd/],
      ['beyond', beyond, /beyond the file size/],
      ['notjson', rawFile(null, new Uint8Array(0), '{"a": nope}'), /not valid UTF-8 JSON/],
      ['notobject', rawFile([1, 2], new Uint8Array(0)), /not a JSON object/],
      ['dtype', rawFile({ a: { dtype: 'F128', shape: [2], data_offsets: [0, 8] } }, f32x2), /unknown dtype/],
      ['mismatch', rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32x2), /needs 12 bytes/],
      ['badshape', rawFile({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, f32x2), /shape/],
      ['range', rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32x2), /out of range/],
      ['overlap', rawFile({
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
      }, f32x2), /overlap/],
      ['gap', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32x2), /gap/],
      ['trailing', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32x2), /trailing/],
      ['truncated', good.subarray(0, good.length - 1), /out of range|truncated/],
      ['garbage', (() => { const g = new Uint8Array(good.length + 3); g.set(good); return g; })(), /trailing/],
      ['badmeta', rawFile({ __metadata__: { a: 1 } }, new Uint8Array(0)), /__metadata__/],
      ['badutf8', (() => {
        const f = rawFile(null, new Uint8Array(0), '{"aX": {}}');
        f[8 + 3] = 0xff; // invalid UTF-8 byte inside the key
        return f;
      })(), /not valid UTF-8 JSON/],
    ];
    for (const [name, bytes, re] of cases) {
      const p = join(dir, `${name}.safetensors`);
      writeFileSync(p, bytes);
      assert.throws(() => readSafetensors(p), (e: unknown) => {
        assert.ok(e instanceof OodgenError, `${name}: not an OodgenError: ${e}`);
        assert.ok(e.message.includes(p), `${name}: message does not name the file: ${e.message}`);
        assert.match(e.message, re, name);
        return true;
      }, name);
    }
    assert.throws(() => readSafetensors(join(dir, 'missing.safetensors')), /missing\.safetensors.*cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const havePy = existsSync(PY) && spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const skipPy = havePy ? false : `${PY} with torch not available`;

test('a file written by Python (scripts/py/st_io.py) is read correctly', { skip: skipPy }, () => {
  const dir = tmp();
  try {
    const p = join(dir, 'py.safetensors');
    const script = `
import sys, torch
sys.path.insert(0, ${JSON.stringify(join(ROOT, 'scripts/py'))})
from st_io import save_file
save_file({
  'w': torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4 - 0.5,
  'd': torch.tensor([1/3, -2.5], dtype=torch.float64),
  'n': torch.tensor(42, dtype=torch.int64),
  'i': torch.tensor([[-1, 7]], dtype=torch.int32),
  'u': torch.tensor([3, 250], dtype=torch.uint8),
  'b': torch.tensor([True, False, True]),
  'h': torch.tensor([0.5, -1.0]).half(),
  'bh': torch.tensor([2.0, -0.5]).bfloat16(),
}, sys.argv[1], {'producer': 'py'})
`;
    const r = spawnSync(PY, ['-c', script, p], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { tensors, metadata } = readSafetensors(p);
    assert.deepEqual(metadata, { producer: 'py' });
    const w = tensors.get('w')!;
    assert.equal(w.dtype, 'F32');
    assert.deepEqual(w.shape, [2, 3]);
    assert.deepEqual([...(toTypedArray(w) as Float32Array)], [-0.5, -0.25, 0, 0.25, 0.5, 0.75]);
    assert.deepEqual([...(toTypedArray(tensors.get('d')!) as Float64Array)], [1 / 3, -2.5]);
    const n = tensors.get('n')!;
    assert.deepEqual(n.shape, []);
    assert.deepEqual([...(toTypedArray(n) as BigInt64Array)], [42n]);
    assert.deepEqual([...(toTypedArray(tensors.get('i')!) as Int32Array)], [-1, 7]);
    assert.deepEqual(tensors.get('i')!.shape, [1, 2]);
    assert.deepEqual([...toTypedArray(tensors.get('u')!)], [3, 250]);
    assert.equal(tensors.get('b')!.dtype, 'BOOL');
    assert.deepEqual([...toTypedArray(tensors.get('b')!)], [1, 0, 1]);
    assert.deepEqual([...toFloat32(tensors.get('h')!)], [0.5, -1]);
    assert.deepEqual([...toFloat32(tensors.get('bh')!)], [2, -0.5]);
    // byte-identical to what TS writes for the same content (same layout rules)
    assert.deepEqual(serializeSafetensors(tensors, metadata), new Uint8Array(readFileSync(p)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file written by TypeScript is read by Python', { skip: skipPy }, () => {
  const dir = tmp();
  try {
    const p = join(dir, 'ts.safetensors');
    const ts = sample();
    writeSafetensors(p, ts, { producer: 'ts' });
    const r = spawnSync(PY, [ST_IO, 'dump', p], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const dump = JSON.parse(r.stdout) as { metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; values: (number | boolean)[] }> };
    assert.deepEqual(dump.metadata, { producer: 'ts' });
    assert.deepEqual(Object.keys(dump.tensors).sort(), Object.keys(ts).sort());
    for (const [k, v] of Object.entries(ts)) {
      assert.equal(dump.tensors[k]!.dtype, v.dtype, k);
      assert.deepEqual(dump.tensors[k]!.shape, v.shape, k);
    }
    assert.deepEqual(dump.tensors['enc.0.weight']!.values, [1.5, -2, 3.25, 0, Math.fround(1e-30), -0]);
    assert.deepEqual(dump.tensors['d']!.values, [Math.PI, -Math.E]);
    assert.deepEqual(dump.tensors['steps']!.values, [123456789012345]);
    assert.deepEqual(dump.tensors['idx']!.values, [-1, 2, 3, 4]);
    assert.deepEqual(dump.tensors['mask']!.values, [true, false]);
    assert.deepEqual(dump.tensors['half']!.values, [1, -2]);
    assert.deepEqual(dump.tensors['bhalf']!.values, [1, 3]);
    assert.deepEqual(dump.tensors['u8']!.values, [0, 255, 7]);
    // Python re-saves it byte-identically
    const q = join(dir, 'py.safetensors');
    const c = spawnSync(PY, [ST_IO, 'copy', p, q], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    assert.deepEqual(new Uint8Array(readFileSync(q)), new Uint8Array(readFileSync(p)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DCGAN-VAE checkpoint: PyTorch -> TS -> PyTorch load_state_dict(strict=True)', { skip: skipPy }, () => {
  const dir = tmp();
  try {
    const bench = join(ROOT, 'bench/pytorch/dcgan_vae.py');
    const src = join(dir, 'ref.safetensors');
    const s = spawnSync(PY, [bench, 'save-checkpoint', src, '--c', '3', '--z', '128'], { encoding: 'utf8' });
    assert.equal(s.status, 0, s.stderr);
    const { tensors, metadata } = readSafetensors(src);
    assert.equal(tensors.get('encoder.0.weight')!.dtype, 'F32');
    assert.deepEqual(tensors.get('encoder.0.weight')!.shape, [64, 3, 4, 4]);
    assert.deepEqual(tensors.get('encoder.9.weight')!.shape, [256, 4096]);
    assert.deepEqual(tensors.get('decoder.2.weight')!.shape, [256, 128, 4, 4]);
    const nbt = tensors.get('encoder.3.num_batches_tracked')!;
    assert.equal(nbt.dtype, 'I64');
    assert.deepEqual([...(toTypedArray(nbt) as BigInt64Array)], [2n]);
    const probe = readSafetensors(src + '.probe.safetensors').tensors;
    assert.deepEqual(probe.get('_probe.h')!.shape, [4, 256]);
    // re-write with the TS writer (copying the data, so nothing aliases the source) and check it in PyTorch
    const dst = join(dir, 'oodgen.safetensors');
    const copy = new Map([...tensors].map(([k, t]) => [k, { ...t, data: t.data.slice() }]));
    writeSafetensors(dst, copy, metadata);
    writeSafetensors(dst + '.probe.safetensors', new Map(probe));
    const c = spawnSync(PY, [bench, 'check-checkpoint', dst, '--c', '3', '--z', '128'], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr + c.stdout);
    assert.match(c.stdout, /^OK 2895875 parameters/);
    // a wrong key set is refused by strict loading
    copy.delete('decoder.0.bias');
    writeSafetensors(dst, copy, metadata);
    const bad = spawnSync(PY, [bench, 'check-checkpoint', dst], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /decoder\.0\.bias/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
