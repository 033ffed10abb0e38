import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.js';
import { BatchNorm2d, Linear, Sequential, ReLU, setBatchStatsMode, Conv2d, ConvTranspose2d } from '../../src/nn/index.js';
import { ReferenceVae } from '../../bench/train-step.js';

test('state_dict names follow PyTorch (Sequential indices, BatchNorm buffers)', () => {
  const m = new ReferenceVae(3, 128);
  const keys = [...m.stateDict().keys()];
  assert.equal(keys.length, 36);
  for (const k of ['encoder.0.weight', 'encoder.3.running_mean', 'encoder.3.num_batches_tracked', 'encoder.9.weight',
    'decoder.0.bias', 'decoder.3.running_var', 'decoder.8.weight']) assert.ok(keys.includes(k), k);
  assert.equal(m.numParameters(), 2895875); // torch: sum(p.numel() for p in DcganVae(3, 128).parameters())
  m.dispose();
});

test('default init bounds match torch.nn (U(-1/sqrt(fan_in), 1/sqrt(fan_in)))', () => {
  const l = new Linear(100, 50);
  const w = l.weight.toFloat32Array();
  assert.ok(Math.max(...w.map(Math.abs)) <= 0.1 + 1e-7);
  assert.ok(Math.max(...w.map(Math.abs)) > 0.09);
  const ct = new ConvTranspose2d(8, 4, 4);
  assert.deepEqual(ct.weight.shape, [8, 4, 4, 4]);
  assert.ok(Math.max(...ct.weight.toFloat32Array().map(Math.abs)) <= 1 / Math.sqrt(4 * 16) + 1e-7);
  l.dispose(); ct.dispose();
});

test('BatchNorm: train updates running stats, eval uses them, statsMode batch leaves them alone', () => {
  const bn = new BatchNorm2d(2);
  const x = E.add(E.mul(E.randn([16, 2, 4, 4], { generator: E.Generator.cpu(0) }), 3), 5);
  E.tidy(() => bn.forward(x));
  const rm = bn.runningMean.toArray();
  assert.ok(rm.every((v) => Math.abs(v - 0.5) < 0.1), `running mean moved 10% toward 5: ${rm}`);
  assert.equal(bn.numBatchesTracked.item(), 1);
  bn.eval();
  setBatchStatsMode(bn, 'batch');
  const y = E.tidy(() => bn.forward(x));
  assert.deepEqual(bn.runningMean.toArray(), rm, 'batch mode does not touch running stats');
  assert.equal(bn.numBatchesTracked.item(), 1);
  assert.ok(Math.abs(E.mean(y).item()) < 1e-4, 'batch statistics normalise to zero mean');
  setBatchStatsMode(bn, 'auto');
  const z = E.tidy(() => bn.forward(x));
  assert.ok(E.mean(z).item() > 1, 'running statistics (eval) do not fully normalise');
  assert.throws(() => bn.forward(E.zeros([2, 3, 4, 4])), /expected input \(N, 2, H, W\), got \[2, 3, 4, 4\]/);
  bn.dispose(); x.dispose(); y.dispose(); z.dispose();
});

test('train()/eval() reach every submodule; to() keeps tensor identity', () => {
  const m = new Sequential(new Conv2d(1, 2, 3), new BatchNorm2d(2), new ReLU());
  m.eval();
  assert.ok(m.namedModules().every(([, s]) => !s.training));
  m.train();
  assert.ok(m.namedModules().every(([, s]) => s.training));
  const p = m.parameters()[0];
  m.to('cpu');
  assert.equal(m.parameters()[0], p);
  assert.equal(m.device, 'cpu');
  m.dispose();
});

test('loadStateDict refuses missing, unexpected and mis-shaped keys, naming them', () => {
  const a = new Sequential(new Linear(3, 2), new ReLU(), new Linear(2, 1));
  const b = new Sequential(new Linear(3, 2), new ReLU(), new Linear(2, 1));
  b.loadStateDict(a.stateDict());
  assert.deepEqual(b.parameters()[0].toArray(), a.parameters()[0].toArray());
  const partial = new Map([...a.stateDict()].filter(([k]) => k !== '2.bias'));
  assert.throws(() => b.loadStateDict(partial), /missing keys: 2\.bias/);
  const extra = new Map([...a.stateDict(), ['3.weight', E.zeros([1])]]);
  assert.throws(() => b.loadStateDict(extra), /unexpected keys: 3\.weight/);
  assert.doesNotThrow(() => b.loadStateDict(extra, { strict: false }));
  const c = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 1));
  assert.throws(() => c.loadStateDict(a.stateDict()), /'0\.weight' has shape \[2, 3\], the module expects \[4, 3\]/);
  a.dispose(); b.dispose(); c.dispose();
});
