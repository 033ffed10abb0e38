// The binding seen from the engine: setGrad's checks (PyTorch's `tensor.grad = g` setter, checked against
// PyTorch itself), no handle left behind by calls that fail, and the addon loading on first use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as E from '../../src/engine/index.js';
import { native } from '../../src/engine/native.js';

const PY = '/usr/bin/python3';
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

// PyTorch's own messages for the same misuse, so the shim's checks are the setter's and not a guess at them.
const TORCH_SETTER = `
import torch
a = torch.zeros(2, 3, requires_grad=True)
for g in [torch.zeros(3, 2), torch.zeros(2, 3, dtype=torch.float64), a, torch.zeros(2, 3)]:
    try:
        a.grad = g
        print('ok')
    except Exception as e:
        print(str(e))
`;

test("setGrad refuses another shape, another dtype and the tensor itself, as PyTorch's setter does", { skip: hasTorch ? false : 'needs /usr/bin/python3 with torch' }, () => {
  const torch = spawnSync(PY, ['-c', TORCH_SETTER], { encoding: 'utf8' });
  assert.equal(torch.status, 0, torch.stderr);
  const expected = torch.stdout.trim().split('\n');
  const start = E.liveTensors();
  const a = E.zeros([2, 3], { requiresGrad: true });
  const got = [E.zeros([3, 2]), E.zeros([2, 3], { dtype: 'float64' }), a, E.zeros([2, 3])].map((g) => {
    try {
      a.setGrad(g);
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  });
  assert.equal(got.length, expected.length);
  for (let i = 0; i < got.length; i++) {
    if (expected[i] === 'ok') assert.equal(got[i], 'ok');
    // PyTorch: "assigned grad has data of a different size"; oodgen adds the two shapes.
    else assert.ok(got[i].includes(expected[i].replace('Variable', 'a tensor')), `${got[i]} | torch: ${expected[i]}`);
  }
  assert.match(got[0], /\[3, 2\].*\[2, 3\]/, 'the message names both shapes');
  const g = a.grad()!;
  assert.deepEqual(g.shape, [2, 3]);
  g.dispose();
  a.setGrad(null);
  assert.equal(a.grad(), null);
  a.dispose();
  assert.equal(E.liveTensors(), start + 3, 'only the three candidate gradients are left');
});

test('setGrad refuses a gradient on another device', { skip: E.cuda.isAvailable() ? false : 'needs CUDA' }, () => {
  const a = E.zeros([2], { requiresGrad: true });
  const g = E.zeros([2], { device: 'cuda' });
  assert.throws(() => a.setGrad(g), /different device/);
  a.dispose(); g.dispose();
});

test('calls that fail part-way leave no handle behind', () => {
  const start = E.liveTensors();
  const p = E.zeros([2], { requiresGrad: true });
  E.tidy(() => E.sum(E.mul(p, 2)).backward());
  const gone = E.ones([2]);
  const goneHandle = gone.handle;
  gone.dispose();
  const before = E.liveTensors();
  // grads() of [p, p, disposed]: the first two gradients must not be wrapped and then lost.
  assert.throws(() => native.grads([p.handle, p.handle, goneHandle]), /grads: tensor was already disposed/);
  assert.equal(E.liveTensors(), before);
  assert.throws(() => E.callOp('aten::max.dim', [p, 5]), /out of range/);
  assert.throws(() => E.callOp('aten::zeros', [[2], 99]), /dtype.*out of range/);
  assert.equal(E.liveTensors(), before);
  const [g1, g2] = native.grads([p.handle, p.handle]);
  assert.equal(E.liveTensors(), before + 2, 'the same call without the bad handle wraps two gradients');
  native.dispose(g1!); native.dispose(g2!);
  p.dispose();
  assert.equal(E.liveTensors(), start);
});

const run = (code: string, env: Record<string, string> = {}) => spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
  encoding: 'utf8', env: { ...process.env, ...env }, cwd: new URL('../..', import.meta.url).pathname,
});

test('importing oodgen does not load the addon; the first use without it is a clear error', () => {
  const code = `
    const oodgen = await import('./src/index.ts');
    console.log('imported', typeof oodgen.engine.zeros);
    try { oodgen.engine.zeros([1]); console.log('no error'); } catch (e) { console.log('error:', e.message); }
    try { oodgen.liveTensors(); } catch (e) { console.log('again:', e.message.slice(0, 40)); }
  `;
  const r = run(code, { OODGEN_NATIVE: '/nonexistent/oodgen_native.node' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /imported function/);
  assert.match(r.stdout, /error: oodgen: the native addon is not built \(OODGEN_NATIVE=\/nonexistent\/oodgen_native\.node does not exist\). After installing libtorch, run `npm run build:native`/);
  assert.match(r.stdout, /again: oodgen: the native addon is not built/);
});

test('only src/engine imports the raw binding', async () => {
  const { readdirSync, readFileSync, statSync } = await import('node:fs');
  const { join, relative } = await import('node:path');
  const root = new URL('../../src', import.meta.url).pathname;
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
  const offenders = walk(root).filter((p) => !relative(root, p).startsWith('engine/'))
    .filter((p) => /from '[^']*engine\/native(\.js)?'/.test(readFileSync(p, 'utf8')));
  assert.deepEqual(offenders.map((p) => relative(root, p)), []);
});

test('an absurd thread count is a user error, not a crash or an internal error', () => {
  for (const n of [0, -1, 1.5, 1025, 1e9]) assert.throws(() => E.setNumThreads(n), /positive integer up to 1024/);
});
