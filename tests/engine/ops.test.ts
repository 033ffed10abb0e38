// Forward and gradient of every op against golden fixtures written by PyTorch (tests/fixtures/make_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as E from '../../src/engine/index.js';
import { loadTensors } from '../../src/io/checkpoint.js';

const dir = process.env.OODGEN_FIXTURES ?? new URL('../fixtures/', import.meta.url).pathname;
const spec = JSON.parse(readFileSync(`${dir}ops.json`, 'utf8')) as {
  cases: { name: string; fn: string; args: unknown[]; out: string; grads: Record<string, string>; gradOut: string | null; atol: number; extra?: Record<string, string> }[];
};
const { tensors } = loadTensors(`${dir}ops.safetensors`);
const ops = E as unknown as Record<string, (...a: unknown[]) => E.Tensor>;
// The same fixtures check the CUDA path on a GPU machine (scripts/gpu/run.sh): inputs move to the device, results
// come back to the CPU. cuDNN convolutions and CUDA matmuls may use TF32 there, hence the tolerance scale.
const device = process.env.OODGEN_TEST_DEVICE ?? 'cpu';
const atolScale = Number(process.env.OODGEN_TEST_ATOL_SCALE ?? 1);

function maxAbsDiff(a: E.Tensor, b: E.Tensor): number {
  assert.deepEqual(a.shape, b.shape, 'shape');
  const x = a.toFloat32Array(), y = b.toFloat32Array();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

for (const c of spec.cases) {
  test(`op ${c.name} (${c.fn}) matches PyTorch`, () => {
    const start = E.liveTensors();
    E.tidy(() => {
      const leaves = new Map<string, E.Tensor>();
      const materialise = (a: unknown, path: string): unknown => {
        if (a && typeof a === 'object' && 't' in (a as object)) {
          const src = tensors.get((a as { t: string }).t);
          assert.ok(src, `fixture tensor ${(a as { t: string }).t}`);
          const t = device === 'cpu' ? E.clone(src) : E.toDevice(src, device);
          const wantsGrad = Object.keys(c.grads).includes(path);
          if (wantsGrad) t.requiresGrad_(true);
          leaves.set(path, t);
          return t;
        }
        if (Array.isArray(a) && a.some((x) => x && typeof x === 'object' && 't' in x)) return a.map((x, i) => materialise(x, `${path}.${i}`));
        return a;
      };
      const args = c.args.map((a, i) => materialise(a, String(i)));
      const fn = ops[c.fn];
      assert.equal(typeof fn, 'function', `engine exports ${c.fn}`);
      const out = fn(...args);
      const expected = tensors.get(c.out)!;
      const d = maxAbsDiff(out, expected);
      assert.ok(d <= c.atol * atolScale, `${c.name}: forward differs by ${d} (atol ${c.atol})`);
      if (c.extra) {
        for (const [argName, key] of Object.entries(c.extra)) {
          const idx = argName === 'runningMean' ? '1' : '2';
          const dd = maxAbsDiff(leaves.get(idx)!, tensors.get(key)!);
          assert.ok(dd <= c.atol * atolScale, `${c.name}: ${argName} update differs by ${dd}`);
        }
      }
      if (c.gradOut && Object.keys(c.grads).length > 0) {
        const gOut = tensors.get(c.gradOut)!;
        E.sum(E.mul(out, device === 'cpu' ? gOut : E.toDevice(gOut, device))).backward();
        for (const [path, key] of Object.entries(c.grads)) {
          const g = leaves.get(path)!.grad();
          assert.ok(g, `${c.name}: no gradient for argument ${path}`);
          const dg = maxAbsDiff(g, tensors.get(key)!);
          assert.ok(dg <= c.atol * 4 * atolScale, `${c.name}: gradient of argument ${path} differs by ${dg}`);
        }
      }
    });
    assert.equal(E.liveTensors(), start, 'no leaked tensors');
  });
}
