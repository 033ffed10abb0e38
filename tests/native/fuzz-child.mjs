// Child process of fuzz.test.ts: calls every entry point of the raw addon with valid arguments and then with
// hostile ones (wrong types, wrong or disposed handles, out-of-range enums, huge and negative sizes, arrays whose
// getters throw or re-enter the addon). Plain JavaScript so a child starts in well under a second.
//
// Protocol on stdout, one line each, written synchronously so a crash loses nothing already reported:
//   start <i> <name>     before case i runs (the parent blames the last started case if the process dies)
//   pass <i>             the call returned, or threw an Error with a message, and no handle leaked
//   fail <i> <reason>    anything else (a non-Error thrown, an empty message, a leaked handle, a wrong result)
//   done <count>         every case from the start index on has run
// argv: addon path, first case index. Also `list` as the index: prints `case <i> <name>` and `entry <name>` lines.
import { createRequire } from 'node:module';
import { writeSync } from 'node:fs';
import { types } from 'node:util';
import { resolve } from 'node:path';

const [addonPath, startArg] = process.argv.slice(2);
const raw = createRequire(import.meta.url)(resolve(addonPath));
const out = (s) => writeSync(1, s + '\n');

// Every handle any call returns is recorded, so a case's fixtures and results can be released after it; a slot the
// addon filled but never handed back (a leak on an error path) is then the only thing left in liveTensors().
let made = [];
function record(v) {
  if (Array.isArray(v)) v.forEach(record);
  else if (types.isExternal(v)) made.push(v);
}
const n = {};
for (const k of Object.keys(raw)) {
  n[k] = (...a) => {
    const r = raw[k](...a);
    record(r);
    return r;
  };
}

// ---- fixtures ----------------------------------------------------------------------------------------------

const F32 = 6, I64 = 4, U8 = 0, BF16 = 15;
const AUTOCAST_DEVICE = 'cpu';
const CUDA_GRAPHS = raw.buildInfo().cudaGraphs && raw.cudaDeviceCount() > 0;
// Entry points whose valid call throws in this build, and the message it must throw.
const expectError = CUDA_GRAPHS ? {} : {
  cudaGraphNew: /CUDA graphs (need the CUDA build|are not compiled|: no CUDA device)/,
  cudaGraph: /expected a CUDA graph handle/,
};
const tensor = (shape = [2, 3], fill = 1) => {
  const numel = shape.reduce((a, b) => a * b, 1);
  return n.fromBuffer(new Float32Array(numel).fill(fill), shape, F32);
};
const disposed = () => {
  const t = tensor();
  n.dispose(t);
  return t;
};
const opAdd = n.op('aten::add', 'Tensor');
const gen = n.newGenerator(1);
const leafWithGrad = () => {
  const t = tensor();
  n.setRequiresGrad(t, true);
  const g = tensor();
  n.setGrad(t, g);
  n.dispose(g);
  return t;
};
const throwingArray = (first) => {
  const a = [first, first];
  Object.defineProperty(a, 1, { get() { throw new Error('getter threw'); } });
  return a;
};
const sparseHuge = () => {
  const a = [];
  a.length = 2 ** 32 - 1;
  return a;
};

// Values that are wrong for most parameters. Functions are called per case, so each case gets fresh handles.
const hostile = {
  undefined: () => undefined,
  null: () => null,
  true: () => true,
  zero: () => 0,
  minusOne: () => -1,
  fraction: () => 1.5,
  NaN: () => NaN,
  Infinity: () => Infinity,
  minusInfinity: () => -Infinity,
  huge: () => 1e300,
  twoPow53: () => 2 ** 53,
  twoPow63: () => 2 ** 63,
  minusTwoPow63: () => -(2 ** 63),
  emptyString: () => '',
  string: () => 'x',
  symbol: () => Symbol('s'),
  bigint: () => 10n,
  object: () => ({}),
  throwingValueOf: () => ({ valueOf() { throw new Error('valueOf'); }, toString() { throw new Error('toString'); } }),
  proxy: () => new Proxy([1, 2], { get() { throw new Error('proxy'); } }),
  function: () => () => 1,
  emptyArray: () => [],
  arrayOfUndefined: () => [undefined],
  arrayOfStrings: () => ['a'],
  arrayOfFractions: () => [1.5],
  arrayOfNegative: () => [-1],
  arrayOfHuge: () => [2 ** 62, 2 ** 62],
  arrayOfNaN: () => [NaN],
  sparseHugeArray: sparseHuge,
  throwingGetterArray: () => throwingArray(2),
  typedArray: () => new Float32Array(3),
  sharedTypedArray: () => new Float32Array(new SharedArrayBuffer(12)),
  dataView: () => new DataView(new ArrayBuffer(8)),
  disposedTensor: disposed,
  opHandle: () => opAdd,
  generatorHandle: () => gen,
  tensorHandle: () => tensor(),
  arrayWithDisposed: () => [tensor(), disposed()],
  arrayWithOpHandle: () => [tensor(), opAdd],
  throwingGetterTensorArray: () => throwingArray(tensor()),
};

// A fresh port per world-of-one group, so groups created by different cases never share a store.
let nextPort = 20000 + (process.pid % 20000);
const c10dOptions = () => ({ backend: 'gloo', masterAddr: '127.0.0.1', masterPort: nextPort++, rank: 0, worldSize: 1, timeoutMs: 10000 });
let sharedGroup = null;
const group = () => (sharedGroup ??= n.c10dInit(c10dOptions()));

// Valid arguments of every entry point: the valid call must succeed, so the hostile calls are known to be
// refused for the value under test and not for a broken fixture.
const valid = {
  op: () => ['aten::add', 'Tensor'],
  schema: () => [opAdd],
  call: () => [opAdd, [tensor(), tensor(), 1]],
  fromBuffer: () => [new Float32Array(6), [2, 3], F32],
  toBuffer: () => [tensor()],
  shape: () => [tensor()],
  dtype: () => [tensor()],
  device: () => [tensor()],
  dispose: () => [tensor()],
  liveTensors: () => [],
  requiresGrad: () => [tensor()],
  setRequiresGrad: () => [tensor(), true],
  grad: () => [leafWithGrad()],
  setGrad: () => [leafWithGrad(), tensor()],
  grads: () => [[leafWithGrad(), tensor()]],
  clearGrads: () => [[leafWithGrad()]],
  backward: () => {
    const x = tensor();
    n.setRequiresGrad(x, true);
    const y = n.call(n.op('aten::sum', ''), [x]);
    return [[y], null, false, false];
  },
  gradEnabled: () => [true],
  manualSeed: () => [0],
  defaultGenerator: () => ['cpu'],
  newGenerator: () => [3],
  generatorGetState: () => [gen],
  generatorSetState: () => [gen, n.generatorGetState(gen)],
  generatorSeed: () => [gen, 5],
  cudaDeviceCount: () => [],
  synchronize: () => [],
  setNumThreads: () => [n.getNumThreads()],
  getNumThreads: () => [],
  buildInfo: () => [],
  // The runner switches autocast off after every case (an exit without an enter is harmless).
  autocastEnter: () => [AUTOCAST_DEVICE, BF16],
  autocastExit: () => [AUTOCAST_DEVICE, false, BF16],
  // The CPU build has no CUDA graphs: the valid calls must throw the clear message (expectError below).
  cudaGraphNew: () => [],
  cudaGraph: () => [CUDA_GRAPHS ? n.cudaGraphNew() : {}, 'reset'],
  // c10d with a world of one (a TCPStore on loopback hosted by this process): every call returns at once.
  c10dBackends: () => [],
  c10dInit: () => [c10dOptions()],
  c10dDestroy: () => [n.c10dInit(c10dOptions())],
  c10dAllreduce: () => [group(), [tensor()], 'sum'],
  c10dBroadcast: () => [group(), [tensor()], 0],
  c10dAllgather: () => [group(), [tensor()], [tensor()]],
  c10dBarrier: () => [group()],
};

// Parameters that accept "absent" (undefined / null) by design; every other hostile value is still tried on them.
const optional = {
  op: [1], setGrad: [1], backward: [1, 2, 3], gradEnabled: [0], defaultGenerator: [0],
};

// Specific cases: out-of-range enums, huge and negative sizes, semantic misuse, re-entrant getters.
const op = (name, overload = '') => n.op(name, overload);
const specific = {
  'call zeros dtype 99': () => n.call(op('aten::zeros'), [[2], 99]),
  'call zeros dtype -1': () => n.call(op('aten::zeros'), [[2], -1]),
  'call zeros dtype 2^31': () => n.call(op('aten::zeros'), [[2], 2 ** 31]),
  'call zeros dtype complex': () => n.call(op('aten::zeros'), [[2], 9]),
  'call zeros dtype qint8': () => n.call(op('aten::zeros'), [[2], 12]),
  'call empty layout 99': () => n.call(op('aten::empty', 'memory_format'), [[2], null, 99]),
  'call empty layout sparse': () => n.call(op('aten::empty', 'memory_format'), [[2], null, 1]),
  'call empty memory_format 99': () => n.call(op('aten::empty', 'memory_format'), [[2], F32, null, null, null, 99]),
  'call empty memory_format channels_last on 1-d': () => n.call(op('aten::empty', 'memory_format'), [[2], F32, null, null, null, 2]),
  'call to.dtype -3': () => n.call(op('aten::to', 'dtype'), [tensor(), -3]),
  'call zeros negative size': () => n.call(op('aten::zeros'), [[2, -1]]),
  'call zeros overflowing size': () => n.call(op('aten::zeros'), [[2 ** 31, 2 ** 31, 2 ** 31]]),
  'call zeros 2^62 elements': () => n.call(op('aten::zeros'), [[2 ** 62]]),
  'call empty 2^50 float64 elements': () => n.call(op('aten::empty', 'memory_format'), [[2 ** 50], 7]),
  'call zeros size beyond int64': () => n.call(op('aten::zeros'), [[2 ** 64]]),
  'call too many args': () => n.call(opAdd, [tensor(), tensor(), 1, 2, 3]),
  'call missing required arg': () => n.call(opAdd, [tensor()]),
  'call shape mismatch': () => n.call(opAdd, [tensor([2, 3]), tensor([2, 4])]),
  'call randn with tensor as generator': () => n.call(op('aten::randn', 'generator'), [[2], tensor()]),
  'call randn with op as generator': () => n.call(op('aten::randn', 'generator'), [[2], opAdd]),
  'call sum dim out of range': () => n.call(op('aten::sum', 'dim_IntList'), [tensor(), [5]]),
  'call sum dim huge': () => n.call(op('aten::sum', 'dim_IntList'), [tensor(), [2 ** 62]]),
  'call narrow huge length': () => n.call(op('aten::narrow'), [tensor(), 0, 0, 2 ** 62]),
  'call expand negative': () => n.call(op('aten::expand'), [tensor(), [-5, 3]]),
  'call to.device cuda:7': () => n.call(op('aten::to', 'device'), [tensor(), 'cuda:7', F32]),
  'call to.device tpu': () => n.call(op('aten::to', 'device'), [tensor(), 'tpu', F32]),
  'call to.device cuda:256': () => n.call(op('aten::to', 'device'), [tensor(), 'cuda:256', F32]),
  'call cat of disposed': () => n.call(op('aten::cat'), [[tensor(), disposed()]]),
  'call index with tensor list of nulls': () => n.call(op('aten::index', 'Tensor'), [tensor(), [null, 'x']]),
  'call index out of range': () => n.call(op('aten::index', 'Tensor'),
    [tensor(), [n.fromBuffer(new BigInt64Array([7n]), [1], I64)]]),
  'call float list with strings': () => n.call(op('aten::upsample_nearest2d', 'vec'), [tensor([1, 1, 2, 2]), null, ['a']]),
  'call bool list with numbers': () => n.call(op('aten::std', 'correction'), [tensor(), [0], 1, [1]]),
  'call max.dim (tuple result) then dispose': () => {
    const r = n.call(op('aten::max', 'dim'), [tensor(), 1]);
    if (!Array.isArray(r) || r.length !== 2) throw new Error('max.dim should return two handles');
    return r;
  },
  'call split (list result) then dispose': () => n.call(op('aten::split', 'Tensor'), [tensor([4]), 1]),
  're-entrant getter disposes an argument': () => {
    const a = tensor(), b = tensor([2, 3], 2);
    const args = [a, b, 1];
    Object.defineProperty(args, 1, { get() { n.dispose(a); return b; } });
    const r = n.call(opAdd, args);
    const v = new Float32Array(n.toBuffer(r));
    n.dispose(r); n.dispose(b);
    if (v[0] !== 3) throw new Error(`expected 1 + 2 = 3, got ${v[0]}`);
  },
  're-entrant getter calls the addon': () => {
    const a = tensor(), b = tensor();
    const args = [a, b, 1];
    Object.defineProperty(args, 2, {
      get() {
        const r = n.call(opAdd, [a, b, 1]);
        n.dispose(r);
        return 1;
      },
    });
    const r = n.call(opAdd, args);
    n.dispose(r); n.dispose(a); n.dispose(b);
  },
  'call with result conversion after a getter throws late': () => n.call(op('aten::cat'), [throwingArray(tensor())]),
  'call _foreach_add.List of unequal lengths': () => n.call(op('aten::_foreach_add', 'List'), [[tensor(), tensor()], [tensor()]]),
  'call _foreach_add_.List of unequal shapes': () => n.call(op('aten::_foreach_add_', 'List'), [[tensor([2])], [tensor([3])]]),
  'call _foreach_add_.Scalar of no tensors': () => n.call(op('aten::_foreach_add_', 'Scalar'), [[], 1]),
  'call _foreach_addcdiv_ with a mis-shaped list': () => n.call(op('aten::_foreach_addcdiv_', 'Scalar'), [[tensor()], [tensor([3])], [tensor()], 1]),
  'op unknown name': () => n.op('aten::no_such_op', ''),
  'op overload number': () => n.op('aten::add', 5),
  'op name with NUL': () => n.op('aten::add\0x', ''),
  'fromBuffer complex dtype': () => n.fromBuffer(new Float32Array(2), [1], 9),
  'fromBuffer qint8 dtype': () => n.fromBuffer(new Uint8Array(1), [1], 12),
  'fromBuffer Undefined dtype code': () => n.fromBuffer(new Uint8Array(1), [1], 18),
  'call empty_strided Undefined dtype': () => n.call(op('aten::empty_strided'), [[2], [1], 18]),
  'fromBuffer dtype past the last': () => n.fromBuffer(new Uint8Array(1), [1], 19),
  'fromBuffer bytes mismatch': () => n.fromBuffer(new Float32Array(5), [2, 3], F32),
  'fromBuffer negative dim': () => n.fromBuffer(new Float32Array(0), [-1, 0], F32),
  'fromBuffer overflowing shape': () => n.fromBuffer(new Float32Array(1), [2 ** 40, 2 ** 40, 2 ** 40], F32),
  'fromBuffer wrapping shape': () => n.fromBuffer(new Uint8Array(0), [2 ** 32, 2 ** 32], U8),
  'fromBuffer detached buffer': () => {
    const a = new Float32Array(6);
    structuredClone(a.buffer, { transfer: [a.buffer] });
    return n.fromBuffer(a, [2, 3], F32);
  },
  'fromBuffer from a SharedArrayBuffer reads its data': () => {
    const a = new Float32Array(new SharedArrayBuffer(28), 4, 6);
    a.set([1, 2, 3, 4, 5, 6]);
    const v = new Float32Array(n.toBuffer(n.fromBuffer(a, [2, 3], F32)));
    if (v.join() !== '1,2,3,4,5,6') throw new Error(`read ${v.join()}`);
  },
  'fromBuffer from a resizable buffer': () => {
    const buf = new ArrayBuffer(8, { maxByteLength: 64 });
    const a = new Float32Array(buf);
    buf.resize(24);
    a.set([1, 2, 3, 4, 5, 6]);
    const v = new Float32Array(n.toBuffer(n.fromBuffer(a, [6], F32)));
    if (v.join() !== '1,2,3,4,5,6') throw new Error(`read ${v.join()}`);
  },
  'fromBuffer shape getter detaches the buffer': () => {
    const a = new Float32Array(6);
    const shape = [2, 3];
    Object.defineProperty(shape, 1, { get() { structuredClone(a.buffer, { transfer: [a.buffer] }); return 3; } });
    return n.fromBuffer(a, shape, F32);
  },
  'fromBuffer shape getter shrinks a resizable buffer': () => {
    const buf = new ArrayBuffer(24, { maxByteLength: 64 });
    const a = new Float32Array(buf);
    const shape = [2, 3];
    Object.defineProperty(shape, 1, { get() { buf.resize(0); return 3; } });
    return n.fromBuffer(a, shape, F32);
  },
  'fromBuffer view at an odd offset': () => {
    const r = n.fromBuffer(new Uint8Array(9).subarray(1), [2], F32);
    return r;
  },
  'setGrad other shape': () => {
    const t = tensor([2, 3]);
    n.setRequiresGrad(t, true);
    n.setGrad(t, tensor([3, 2]));
  },
  'setGrad other dtype': () => n.setGrad(tensor(), n.fromBuffer(new Float64Array(6), [2, 3], 7)),
  'setGrad itself': () => {
    const t = tensor();
    n.setGrad(t, t);
  },
  'setGrad disposed grad': () => n.setGrad(tensor(), disposed()),
  'backward without grad_fn': () => n.backward([tensor()], null, false, false),
  'backward grads count mismatch': () => {
    const [[y]] = [valid.backward()];
    n.backward(y, [tensor([]), tensor([])], false, false);
  },
  'backward twice without retainGraph': () => {
    const [[y]] = [valid.backward()];
    n.backward([y], null, false, false);
    n.backward([y], null, false, false);
  },
  'backward non-scalar without grads': () => {
    const x = tensor();
    n.setRequiresGrad(x, true);
    const y = n.call(op('aten::mul', 'Scalar'), [x, 2]);
    n.backward([y], null, false, false);
  },
  'backward grad of wrong shape': () => {
    const x = tensor();
    n.setRequiresGrad(x, true);
    const y = n.call(op('aten::mul', 'Scalar'), [x, 2]);
    n.backward([y], [tensor([3])], false, false);
  },
  'grads fails mid-list': () => n.grads([leafWithGrad(), leafWithGrad(), disposed()]),
  'clearGrads fails mid-list': () => n.clearGrads([leafWithGrad(), 7]),
  'setNumThreads 0': () => n.setNumThreads(0),
  'setNumThreads 1e9': () => n.setNumThreads(1e9),
  'setNumThreads 2^31': () => n.setNumThreads(2 ** 31),
  'manualSeed -1 (valid, as torch.manual_seed)': () => n.manualSeed(-1),
  'manualSeed 2^64': () => n.manualSeed(2 ** 64),
  'newGenerator NaN': () => n.newGenerator(NaN),
  'generatorSeed fraction': () => n.generatorSeed(gen, 0.5),
  'generatorSetState wrong size': () => n.generatorSetState(n.newGenerator(1), n.fromBuffer(new Uint8Array(3), [3], U8)),
  'generatorSetState float tensor': () => n.generatorSetState(n.newGenerator(1), tensor([5056])),
  'generatorSetState disposed': () => n.generatorSetState(n.newGenerator(1), disposed()),
  'defaultGenerator cuda:7': () => n.defaultGenerator('cuda:7'),
  'defaultGenerator cuda:-1': () => n.defaultGenerator('cuda:-1'),
  'defaultGenerator cuda:256': () => n.defaultGenerator('cuda:256'),
  'defaultGenerator meta': () => n.defaultGenerator('meta'),
  'defaultGenerator tpu': () => n.defaultGenerator('tpu'),
  'toBuffer of a generator': () => n.toBuffer(gen),
  'toBuffer of a 2^40-element zero-stride view': () => n.toBuffer(n.call(op('aten::expand'), [tensor([1]), [2 ** 40]])),
  'dispose an op handle': () => n.dispose(opAdd),
  'c10dInit rank 1 of 1': () => n.c10dInit({ ...c10dOptions(), rank: 1 }),
  'c10dInit port 0': () => n.c10dInit({ ...c10dOptions(), masterPort: 0 }),
  'c10dInit port 70000': () => n.c10dInit({ ...c10dOptions(), masterPort: 70000 }),
  'c10dInit backend mpi': () => n.c10dInit({ ...c10dOptions(), backend: 'mpi' }),
  'c10dInit throwing getter': () => n.c10dInit({ ...c10dOptions(), get rank() { throw new Error('getter'); } }),
  'c10dInit timeout Infinity': () => n.c10dInit({ ...c10dOptions(), timeoutMs: Infinity }),
  'c10dAllreduce op xor': () => n.c10dAllreduce(group(), [tensor()], 'xor'),
  'c10dBroadcast root 5 of 1': () => n.c10dBroadcast(group(), [tensor()], 5),
  'c10dAllreduce non-contiguous': () => n.c10dAllreduce(group(), [n.call(op('aten::t'), [tensor([2, 3])])], 'sum'),
  'c10dAllreduce destroyed group': () => {
    const g = n.c10dInit(c10dOptions());
    n.c10dDestroy(g);
    n.c10dAllreduce(g, [tensor()], 'sum');
  },
  'autocastEnter cpu float16': () => n.autocastEnter('cpu', 5),
  'autocastEnter cuda float32': () => n.autocastEnter('cuda', F32),
  'autocastEnter device mps': () => n.autocastEnter('mps', BF16),
  'autocastExit dtype int64': () => n.autocastExit('cpu', false, I64),
  'autocastExit twice without enter': () => { n.autocastExit('cpu', false, BF16); n.autocastExit('cpu', false, BF16); },
  'cudaGraph action explode': () => n.cudaGraph(CUDA_GRAPHS ? n.cudaGraphNew() : {}, 'explode'),
  'cudaGraph replay before capture': () => n.cudaGraph(CUDA_GRAPHS ? n.cudaGraphNew() : {}, 'replay'),
  'cudaGraph end without begin': () => n.cudaGraph(CUDA_GRAPHS ? n.cudaGraphNew() : {}, 'end'),
  'cudaGraph begin off the side stream': () => n.cudaGraph(CUDA_GRAPHS ? n.cudaGraphNew() : {}, 'begin'),
  'cudaGraph stream-off without stream-on': () => n.cudaGraph(CUDA_GRAPHS ? n.cudaGraphNew() : {}, 'stream-off'),
  'cudaGraph with a generator handle': () => n.cudaGraph(gen, 'replay'),
  'dispose twice': () => {
    const t = tensor();
    n.dispose(t);
    n.dispose(t);
  },
};

// ---- case list -----------------------------------------------------------------------------------------------

const cases = [];
for (const [name, args] of Object.entries(valid)) {
  cases.push({ name: `${name} valid`, entry: name, expectOk: !expectError[name], expectError: expectError[name], run: () => n[name](...args()) });
  const arity = Math.max(args().length, 1);
  for (let p = 0; p < arity; p++) {
    for (const [hName, h] of Object.entries(hostile)) {
      if (optional[name]?.includes(p) && (hName === 'undefined' || hName === 'null')) continue;
      cases.push({
        name: `${name} arg ${p} = ${hName}`, entry: name,
        run: () => {
          const a = args();
          a[p] = h();
          return n[name](...a);
        },
      });
    }
  }
}
for (const [name, run] of Object.entries(specific)) cases.push({ name, run });
// Every enum code in range and a few past it, through operators that take them (an in-range code libtorch does not
// support must be an Error too, not a tensor that later operations assert on).
for (let d = -1; d <= 20; d++) {
  cases.push({ name: `call zeros dtype ${d}`, run: () => n.call(op('aten::zeros'), [[2], d]) });
  cases.push({ name: `call to.dtype ${d}`, run: () => n.call(op('aten::to', 'dtype'), [tensor(), d]) });
  cases.push({ name: `call randn dtype ${d}`, run: () => n.call(op('aten::randn'), [[2], d]) });
  cases.push({ name: `call sum dtype ${d}`, run: () => n.call(op('aten::sum'), [tensor(), d]) });
  cases.push({ name: `call empty_strided dtype ${d}`, run: () => n.call(op('aten::empty_strided'), [[2], [1], d]) });
  cases.push({ name: `fromBuffer dtype ${d}`, run: () => n.fromBuffer(new Uint8Array(8), [1], d) });
}
for (let l = -1; l <= 9; l++) {
  cases.push({ name: `call empty layout ${l}`, run: () => n.call(op('aten::empty', 'memory_format'), [[2, 2], F32, l]) });
}
for (let m = -1; m <= 6; m++) {
  cases.push({ name: `call empty memory_format ${m}`, run: () => n.call(op('aten::empty', 'memory_format'), [[2, 2, 2, 2], F32, null, null, null, m]) });
  cases.push({ name: `call clone memory_format ${m}`, run: () => n.call(op('aten::clone'), [tensor(), m]) });
}
if (startArg === 'list') {
  for (const e of Object.keys(n)) out(`entry ${e}`);
  for (const e of Object.keys(valid)) out(`covered ${e}`);
  cases.forEach((c, i) => out(`case ${i} ${c.name}`));
  process.exit(0);
}

const threads = n.getNumThreads();
for (let i = Number(startArg); i < cases.length; i++) {
  const c = cases[i];
  out(`start ${i} ${c.name}`);
  made = [];
  const before = raw.liveTensors();
  let error = null;
  try {
    c.run();
  } catch (e) {
    error = e;
  }
  for (const h of made) try { raw.dispose(h); } catch { /* a generator or operator handle */ }
  raw.gradEnabled(true);
  raw.setNumThreads(threads);
  raw.autocastExit(AUTOCAST_DEVICE, false, BF16);
  const leaked = raw.liveTensors() - before;
  let problem = null;
  if (error !== null && !(error instanceof Error)) problem = `threw a non-Error: ${String(error)}`;
  else if (error !== null && !error.message) problem = 'threw an Error without a message';
  else if (c.expectOk && error !== null) problem = `the valid call failed: ${error.message}`;
  else if (c.expectError && !(error !== null && c.expectError.test(error.message))) problem = `expected an Error matching ${c.expectError}, got ${error ? error.message : 'none'}`;
  else if (leaked !== 0) problem = `${leaked} tensor handle(s) leaked`;
  if (problem) out(`fail ${i} ${problem}`);
  else out(`pass ${i} ${error ? 'threw: ' + error.message.split('\n')[0].slice(0, 160) : 'returned'}`);
}
out(`done ${cases.length}`);
