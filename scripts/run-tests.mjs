#!/usr/bin/env node
// Runs every tests/**/*.test.ts with Node's own test runner (TypeScript through tsx).
// Node 20's --test does not expand globs, so the file list is built here.
// Extra arguments are substrings: `npm test -- engine` runs the files whose path contains "engine".
// The run fails when the tests leave an oodgen-* temp folder or a new runs/ entry behind (scripts/test-guard.mjs),
// and the full run (no filter) when the project does not type-check.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { leftoverReport, runGuarded } from './test-guard.mjs';

const root = new URL('..', import.meta.url).pathname;
function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}
const filters = process.argv.slice(2);
const files = walk(join(root, 'tests')).map((p) => relative(root, p)).sort()
  .filter((p) => filters.length === 0 || filters.some((f) => p.includes(f)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The whole suite first type-checks the project, tests included (tsconfig.json, strict): tsx strips types without
// checking them, so a type error in a test or an untested path would otherwise pass CI unseen. ~15-30 s.
if (filters.length === 0) {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json'), '--noEmit'], { cwd: root, encoding: 'utf8' });
  if (tsc.status !== 0) {
    console.error(`type check failed (tsc -p tsconfig.json --noEmit):\n${tsc.stdout}${tsc.stderr}`);
    process.exit(1);
  }
}
const r = runGuarded(files, { root });
const report = leftoverReport(r);
if (report) {
  console.error(`\n${report}`);
  process.exit(r.status === 0 ? 1 : r.status);
}
process.exit(r.status);
