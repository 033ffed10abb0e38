import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
// @ts-expect-error plain-JS launcher helper without type declarations
import { applyBlasThreads, threadsArg } from '../../bin/threads-env.js';

test('launcher: --threads N sizes OpenBLAS too (OPENBLAS_NUM_THREADS), unless the environment already does', () => {
  assert.equal(threadsArg(['--threads', '1', 'train']), '1');
  assert.equal(threadsArg(['train', '--threads=3']), '3');
  assert.equal(threadsArg(['serve', '--worker-threads', '2']), undefined);
  assert.equal(threadsArg(['x', '--', '--threads', '2']), undefined);
  const env: Record<string, string | undefined> = {};
  applyBlasThreads(['--threads', '1', 'train'], env);
  assert.equal(env.OPENBLAS_NUM_THREADS, '1');
  const set: Record<string, string | undefined> = { OPENBLAS_NUM_THREADS: '4' };
  applyBlasThreads(['--threads', '1'], set);
  assert.equal(set.OPENBLAS_NUM_THREADS, '4');
  for (const bad of [['--threads'], ['--threads', 'two'], ['--threads', '0'], ['train']]) {
    const e: Record<string, string | undefined> = {};
    applyBlasThreads(bad, e);
    assert.equal(e.OPENBLAS_NUM_THREADS, undefined, bad.join(' '));
  }
  // It must run before the CLI (and so the addon, and so OpenBLAS) is imported: OpenBLAS reads it once, at load.
  const bin = readFileSync(new URL('../../bin/oodgen.js', import.meta.url), 'utf8');
  assert.ok(bin.indexOf('applyBlasThreads(process.argv') < bin.indexOf('await import('), 'applyBlasThreads runs before the dynamic imports');
});
