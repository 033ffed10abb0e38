// `npm test` fails when a test file leaves a temp folder or a runs/ entry behind, naming them, and temp folders made
// through tests/helpers/tmp.ts are gone after their tests, passed or failed (scripts/test-guard.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
// @ts-expect-error: a plain .mjs script of the repository, without type declarations
import { runGuarded, leftoverReport } from '../../scripts/test-guard.mjs';

const root = new URL('../../', import.meta.url).pathname;
const fixtures = join(root, 'tests', 'fixtures', 'test-guard');

/** A scratch checkout: its own runs/ (with one earlier entry) and the real node_modules for tsx. */
function fakeRoot(t: { after(fn: () => void): void }): string {
  const dir = tempDir('guard', t);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, 'runs', 'earlier-run'), { recursive: true });
  return dir;
}

test('the guard names the temp folder and runs/ entry a test file leaves, and the test file that makes it', { timeout: 120_000 }, (t) => {
  const dir = fakeRoot(t);
  const r = runGuarded([join(fixtures, 'leaky.fixture.mjs')], { root: dir, testsDir: fixtures, stdio: 'pipe' });
  assert.equal(r.status, 0, `the leaky test itself passes:\n${r.output}`);
  assert.deepEqual(r.tmpLeft.map((l: { name: string }) => l.name.slice(0, -6)), ['oodgen-leaky-']);
  assert.ok(r.tmpLeft[0].madeBy[0].endsWith('leaky.fixture.mjs'), `made by ${r.tmpLeft[0].madeBy}`);
  assert.deepEqual(r.runsLeft.map((l: { name: string }) => l.name), ['runs/leaky-run', 'stray.txt'], 'the earlier runs/ entry is not blamed');
  assert.ok(!existsSync(r.tmpLeft[0].path), 'the private TMPDIR is removed after the run');
  const msg = leftoverReport(r);
  assert.match(msg, /left 3 file\(s\) or folder\(s\) behind/);
  assert.match(msg, /TMPDIR\/oodgen-leaky-\w{6} \(made by .*leaky\.fixture\.mjs\)/);
  assert.match(msg, /runs\/leaky-run \(in the checkout\)/);
  assert.match(msg, /stray\.txt \(in the checkout\)/);
});

test('temp folders from tests/helpers/tmp.ts are gone after the run, also from a failing test', { timeout: 120_000 }, (t) => {
  const dir = fakeRoot(t);
  const r = runGuarded([join(fixtures, 'tidy.fixture.ts')], { root: dir, testsDir: fixtures, stdio: 'pipe' });
  assert.notEqual(r.status, 0, 'the deliberately failing test fails the run');
  assert.match(r.output, /deliberate failure/);
  assert.match(r.output, /# pass 1/);
  assert.deepEqual(r.tmpLeft, []);
  assert.deepEqual(r.runsLeft, []);
  assert.equal(leftoverReport(r), '');
});
