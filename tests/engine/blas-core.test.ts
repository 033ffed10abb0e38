// OPENBLAS_CORETYPE from the CPU's instruction sets (src/engine/blas-core.ts), and OpenBLAS really taking it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyOpenblasCoreType, openblasCoreFor } from '../../src/engine/blas-core.js';
import { tempDir } from '../helpers/tmp.js';

const cpu = (vendor: string, flags: string): string =>
  `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: 6\nmodel\t\t: 207\nflags\t\t: ${flags}\n\nprocessor\t: 1\n`;
const AVX2 = 'fpu sse sse2 ssse3 sse4_1 sse4_2 avx fma avx2';
const AVX512 = `${AVX2} avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx512_bf16`;

test('the core type follows the instruction sets on x86-64: Intel, and AMD with AVX-512', () => {
  assert.equal(openblasCoreFor(cpu('GenuineIntel', AVX512), 'x64'), 'SkylakeX');
  assert.equal(openblasCoreFor(cpu('GenuineIntel', AVX2), 'x64'), 'Haswell');
  // AVX-512 without BW/VL (Knights Landing) is not SkylakeX; AVX without FMA/AVX2 gets OpenBLAS's own choice.
  assert.equal(openblasCoreFor(cpu('GenuineIntel', `${AVX2} avx512f avx512cd`), 'x64'), 'Haswell');
  assert.equal(openblasCoreFor(cpu('GenuineIntel', 'fpu sse sse2 avx'), 'x64'), undefined);
  // Zen 4/5 with AVX-512: SkylakeX (later OpenBLAS releases detect them so); AMD with AVX2 only keeps the Zen kernels
  // OpenBLAS picks, and any other vendor keeps OpenBLAS's choice.
  assert.equal(openblasCoreFor(cpu('AuthenticAMD', AVX512), 'x64'), 'SkylakeX');
  assert.equal(openblasCoreFor(cpu('AuthenticAMD', AVX2), 'x64'), undefined);
  assert.equal(openblasCoreFor(cpu('AuthenticAMD', `${AVX2} avx512f avx512cd`), 'x64'), undefined);
  assert.equal(openblasCoreFor(cpu('HygonGenuine', AVX512), 'x64'), undefined);
  assert.equal(openblasCoreFor(cpu('GenuineIntel', AVX512), 'arm64'), undefined);
  assert.equal(openblasCoreFor('', 'x64'), undefined);
});

test('applyOpenblasCoreType: a value in the environment wins; no cpuinfo, no change', (t) => {
  const dir = tempDir('blas-core', t);
  const file = join(dir, 'cpuinfo');
  const set: NodeJS.ProcessEnv = { OPENBLAS_CORETYPE: 'Zen' };
  assert.equal(applyOpenblasCoreType(set, file), 'Zen');
  assert.equal(set.OPENBLAS_CORETYPE, 'Zen');
  const none: NodeJS.ProcessEnv = {};
  assert.equal(applyOpenblasCoreType(none, join(dir, 'missing')), undefined);
  assert.deepEqual(none, {});
});

// OpenBLAS prints the core it chose at load with OPENBLAS_VERBOSE=2: the addon's load must apply the value first.
const expected = existsSync('/proc/cpuinfo') ? openblasCoreFor(readFileSync('/proc/cpuinfo', 'utf8')) : undefined;
test('loading the addon hands OpenBLAS the core type', { skip: expected ? false : 'this CPU keeps OpenBLAS\'s own choice' }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_VERBOSE: '2' };
  delete env.OPENBLAS_CORETYPE;
  const code = "const E = await import('./src/engine/index.js'); const t = E.randn([64, 64]); const m = E.matmul(t, t); m.dispose(); t.dispose();";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: new URL('../../', import.meta.url).pathname, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout + r.stderr, new RegExp(`Core: ${expected}\\b`));
});
