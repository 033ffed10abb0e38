// Consistency of the golden op fixtures (tests/fixtures/ops.json + ops.safetensors, written by
// tests/fixtures/make_fixtures.py). Engine-free: checks the schema, that every key exists with the
// right shapes, that every op the engine must implement is covered, and one case by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, toTypedArray, type StTensor } from '../../src/io/safetensors.js';

const DIR = new URL('../fixtures/', import.meta.url).pathname;

interface OpCase {
  name: string;
  fn: string;
  args: unknown[];
  out: string;
  grads: Record<string, string>;
  gradOut: string | null;
  atol: number;
  extra?: Record<string, string>;
}

const OPS = [
  'add', 'sub', 'mul', 'div', 'neg', 'exp', 'log', 'log1p', 'sqrt', 'square', 'pow', 'abs', 'clamp', 'maximum', 'minimum', 'where',
  'relu', 'leakyRelu', 'sigmoid', 'tanh', 'softplus', 'logSigmoid', 'softmax', 'logSoftmax',
  'sum', 'mean', 'logsumexp', 'max', 'min', 'std', 'variance', 'norm',
  'reshape', 'permute', 'transpose', 'flatten', 'unflatten', 'squeeze', 'unsqueeze', 'expand', 'cat', 'stack', 'narrow',
  'indexSelect', 'gather', 'chunk', 'repeat', 'flip',
  'matmul', 'mm', 'bmm', 't',
  'linear', 'conv2d', 'convTranspose2d', 'batchNorm', 'crossEntropy', 'mseLoss', 'bceWithLogits', 'interpolate', 'avgPool2d',
];

function load() {
  const doc = JSON.parse(readFileSync(join(DIR, 'ops.json'), 'utf8')) as { format: string; cases: OpCase[] };
  const { tensors } = readSafetensors(join(DIR, 'ops.safetensors'));
  return { doc, tensors };
}

function isTensorRef(a: unknown): a is { t: string } {
  return typeof a === 'object' && a !== null && !Array.isArray(a) && typeof (a as { t?: unknown }).t === 'string';
}

test('op fixtures: schema, keys, shapes and coverage', () => {
  const { doc, tensors } = load();
  assert.equal(doc.format, 'oodgen-op-fixtures/1');
  const used = new Set<string>();
  const get = (k: string): StTensor => {
    const t = tensors.get(k);
    assert.ok(t, `missing tensor ${k}`);
    used.add(k);
    return t;
  };
  const names = new Set<string>();
  for (const c of doc.cases) {
    assert.ok(!names.has(c.name), `duplicate case ${c.name}`);
    names.add(c.name);
    assert.ok(OPS.includes(c.fn), `${c.name}: unknown fn ${c.fn}`);
    assert.ok(c.atol > 0 && c.atol <= 1e-3, `${c.name}: atol ${c.atol}`);
    const argShape = new Map<string, number[]>();
    c.args.forEach((a, i) => {
      if (isTensorRef(a)) argShape.set(String(i), get(a.t).shape);
      else if (Array.isArray(a) && a.some(isTensorRef)) a.forEach((e, j) => argShape.set(`${i}.${j}`, get((e as { t: string }).t).shape));
    });
    const out = get(c.out);
    assert.equal(out.dtype, 'F32', c.name);
    if (c.gradOut !== null) assert.deepEqual(get(c.gradOut).shape, out.shape, `${c.name}: gradOut shape`);
    for (const [idx, key] of Object.entries(c.grads)) {
      assert.ok(argShape.has(idx), `${c.name}: grad for non-tensor arg ${idx}`);
      assert.deepEqual(get(key).shape, argShape.get(idx), `${c.name}: grad ${idx} shape`);
    }
    for (const key of Object.values(c.extra ?? {})) get(key);
  }
  assert.deepEqual(OPS.filter((f) => !doc.cases.some((c) => c.fn === f)), [], 'ops without a fixture');
  assert.equal(used.size, tensors.size, 'unreferenced tensors in ops.safetensors');
});

test('op fixtures: add_bcast matches a hand computation (broadcast + reduced gradients)', () => {
  const { doc, tensors } = load();
  const c = doc.cases.find((x) => x.name === 'add_bcast')!;
  const f = (k: string) => toTypedArray(tensors.get(k)!) as Float32Array;
  const a = f((c.args[0] as { t: string }).t); // (4,1,3)
  const b = f((c.args[1] as { t: string }).t); // (2,3)
  const out = f(c.out); // (4,2,3)
  const go = f(c.gradOut!);
  assert.deepEqual(tensors.get(c.out)!.shape, [4, 2, 3]);
  const ga = new Float64Array(12);
  const gb = new Float64Array(6);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) {
    const o = i * 6 + j * 3 + k;
    assert.ok(Math.abs(out[o]! - (a[i * 3 + k]! + b[j * 3 + k]!)) <= c.atol);
    ga[i * 3 + k]! += go[o]!;
    gb[j * 3 + k]! += go[o]!;
  }
  f(c.grads['0']!).forEach((v, i) => assert.ok(Math.abs(v - ga[i]!) <= c.atol));
  f(c.grads['1']!).forEach((v, i) => assert.ok(Math.abs(v - gb[i]!) <= c.atol));
});
