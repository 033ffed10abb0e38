// Checkpoints cross to and from PyTorch: oodgen's file loads into the PyTorch reference module with
// strict=True, and PyTorch's file loads into oodgen with identical outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../src/engine/index.js';
import { saveStateDict, loadStateDict, loadTensors, saveTensors } from '../../src/io/checkpoint.js';
import { ReferenceVae } from '../../bench/train-step.js';
import { tempDir } from '../helpers/tmp.js';

const PY = '/usr/bin/python3';
const script = new URL('../../bench/pytorch/dcgan_vae.py', import.meta.url).pathname;
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const skip = hasTorch ? false : 'needs /usr/bin/python3 with torch (Debian python3-torch)';

function trained(): ReferenceVae {
  E.manualSeed(0);
  const m = new ReferenceVae(3, 128);
  E.tidy(() => m.loss(E.rand([4, 3, 32, 32])).backward()); // train-mode forward moves BN running stats
  return m;
}

test('an oodgen checkpoint round-trips and is refused when truncated', () => {
  const dir = tempDir('ckpt');
  const m = trained();
  const path = join(dir, 'model.safetensors');
  saveStateDict(path, m);
  const fresh = new ReferenceVae(3, 128);
  loadStateDict(path, fresh);
  for (const [k, t] of m.stateDict()) assert.deepEqual(fresh.stateDict().get(k)!.toArray(), t.toArray(), k);
  const bytes = readFileSync(path);
  writeFileSync(join(dir, 'cut.safetensors'), bytes.subarray(0, bytes.length - 100));
  assert.throws(() => loadStateDict(join(dir, 'cut.safetensors'), fresh), /cut\.safetensors/);
  m.dispose(); fresh.dispose();
});

test('a checkpoint written by oodgen loads into the PyTorch module with strict=True', { skip }, () => {
  const dir = tempDir('ckpt');
  const m = trained();
  m.eval();
  const path = join(dir, 'oodgen.safetensors');
  saveStateDict(path, m);
  // A probe so PyTorch also checks the outputs, not only the names.
  const x = E.rand([4, 3, 32, 32], { generator: E.Generator.cpu(5) });
  const h = E.noGrad(() => m.encoder.forward(x));
  const mu = E.contiguous(E.narrow(h, 1, 0, 128));
  const xr = E.noGrad(() => m.decoder.forward(mu));
  const probe = new Map([['_probe.x', x], ['_probe.h', h], ['_probe.z', mu], ['_probe.xr', xr]]);
  saveTensors(`${path}.probe.safetensors`, probe);
  const r = spawnSync(PY, [script, 'check-checkpoint', path, '--c', '3', '--z', '128'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /OK 2895875 parameters/);
  m.dispose();
});

test('a checkpoint written by PyTorch loads into oodgen with the same outputs', { skip }, () => {
  const dir = tempDir('ckpt');
  const path = join(dir, 'torch.safetensors');
  const r = spawnSync(PY, [script, 'save-checkpoint', path, '--c', '3', '--z', '128'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const m = new ReferenceVae(3, 128);
  loadStateDict(path, m, { strict: true });
  assert.equal(m.stateDict().get('encoder.3.num_batches_tracked')!.item(), 2);
  m.eval();
  const { tensors } = loadTensors(`${path}.probe.safetensors`);
  E.tidy(() => E.noGrad(() => {
    const h = m.encoder.forward(tensors.get('_probe.x')!);
    const d = E.max(E.abs(E.sub(h, tensors.get('_probe.h')!))).item();
    assert.ok(d < 1e-4, `encoder output differs by ${d}`);
    const xr = m.decoder.forward(tensors.get('_probe.z')!);
    const d2 = E.max(E.abs(E.sub(xr, tensors.get('_probe.xr')!))).item();
    assert.ok(d2 < 1e-4, `decoder output differs by ${d2}`);
  }));
  m.dispose();
});
