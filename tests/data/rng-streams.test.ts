// The one PRNG module (src/data/rng.ts) keeps the exact streams of the three generators it replaced, so numbers
// documented from checkpoints that are not in the repository (bootstrap intervals, the latent analysis, mixed
// batches) stay reproducible. The old implementations are transcribed here as the oracle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GOLDEN, mulberry32, sampleIndices, shuffle } from '../../src/data/rng.js';
import { mulberry32 as analysisRandom } from '../../src/analysis/matrix.js';

function oldMulberry(seed: number, xor: boolean): () => number {
  let a = xor ? (seed >>> 0) ^ 0x9e3779b9 : seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('mulberry32 streams: eval (salt 0), analysis and mixed batches (GOLDEN) are the old ones', () => {
  for (const seed of [0, 1, 7, 123456, 0xffffffff, -5]) {
    const a = mulberry32(seed), b = oldMulberry(seed, false);
    const c = analysisRandom(seed), d = oldMulberry(seed, true), e = mulberry32(seed, GOLDEN);
    for (let i = 0; i < 1000; i++) {
      assert.equal(a(), b(), `salt 0, seed ${seed}, draw ${i}`);
      const x = d();
      assert.equal(c(), x, `analysis, seed ${seed}, draw ${i}`);
      assert.equal(e(), x, `GOLDEN, seed ${seed}, draw ${i}`);
    }
  }
});

test('shuffle and sampleIndices: permutations with the old Fisher-Yates draws', () => {
  const p = Int32Array.from({ length: 50 }, (_, i) => i);
  shuffle(p, mulberry32(3, GOLDEN));
  const q = Int32Array.from({ length: 50 }, (_, i) => i);
  const r = oldMulberry(3, true);
  for (let i = 49; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = q[i]!; q[i] = q[j]!; q[j] = t;
  }
  assert.deepEqual([...p], [...q]);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  const s = sampleIndices(100, 10, 4);
  assert.equal(new Set(s).size, 10);
  assert.deepEqual([...s], [...s].sort((x, y) => x - y));
});
