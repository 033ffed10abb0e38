// Hostile calls into the raw addon never kill the process: every binding entry point is called with wrong types,
// wrong and disposed handles, out-of-range enums, huge and negative sizes (tests/native/fuzz-child.mjs), in child
// processes. One child runs the cases in order; if it dies (by a signal, or any other way), the case it had started
// is recorded and a new child goes on from the next one, so one run lists every crashing case.
// OODGEN_FUZZ_ADDON=<path to a .node> points the test at another build (e.g. an older one, to see it fail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { addonPath, NATIVE_ENTRY_POINTS } from '../../src/engine/native.js';

const child = new URL('./fuzz-child.mjs', import.meta.url).pathname;
const addon = process.env.OODGEN_FUZZ_ADDON ?? addonPath();
const skip = addon ? false : 'the native addon is not built';

function runChild(start: string): { lines: string[]; status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const r = spawnSync(process.execPath, [child, addon!, start], {
    encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024,
  });
  return { lines: r.stdout.split('\n').filter(Boolean), status: r.status, signal: r.signal, stderr: r.stderr ?? '' };
}

test('the fuzz cases cover every entry point the addon exports, and the typed binding lists them all', { skip }, () => {
  const r = runChild('list');
  assert.equal(r.status, 0, r.stderr);
  const exported = r.lines.filter((l) => l.startsWith('entry ')).map((l) => l.slice(6)).sort();
  const covered = r.lines.filter((l) => l.startsWith('covered ')).map((l) => l.slice(8)).sort();
  assert.deepEqual(covered, exported, 'every exported function has fuzz cases');
  assert.deepEqual([...NATIVE_ENTRY_POINTS].sort(), exported, 'src/engine/native.ts lists every exported function');
  assert.ok(r.lines.filter((l) => l.startsWith('case ')).length > 1000);
});

test('no hostile call into the addon kills the process, throws a non-Error or leaks a handle', { skip }, () => {
  const names = new Map<number, string>();
  for (const l of runChild('list').lines) {
    const m = /^case (\d+) (.*)$/.exec(l);
    if (m) names.set(Number(m[1]), m[2]);
  }
  const crashes: string[] = [];
  const failures: string[] = [];
  let passed = 0;
  let total = -1;
  let start = 0;
  for (let children = 0; total < 0; children++) {
    assert.ok(children < 50, `more than 50 children died; crashes so far:\n${crashes.join('\n')}`);
    const r = runChild(String(start));
    let started = -1;
    for (const l of r.lines) {
      const [kind, idx, ...rest] = l.split(' ');
      if (kind === 'start') started = Number(idx);
      else if (kind === 'pass') passed++;
      else if (kind === 'fail') failures.push(`case ${idx} (${names.get(Number(idx))}): ${rest.join(' ')}`);
      else if (kind === 'done') total = Number(idx);
    }
    if (total >= 0 && r.status === 0) break;
    total = -1;
    if (started < 0) assert.fail(`the fuzz child died before its first case: ${r.signal ?? r.status}\n${r.stderr.slice(-2000)}`);
    const how = r.signal ? `killed by ${r.signal}` : `exited with status ${r.status}`;
    crashes.push(`case ${started} (${names.get(started)}): ${how}; stderr: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
    start = started + 1;
    if (start >= names.size) break;
  }
  assert.deepEqual(crashes, [], `hostile calls killed the process:\n${crashes.join('\n')}`);
  assert.deepEqual(failures, []);
  assert.equal(total, names.size);
  assert.equal(passed, names.size, 'every case reported');
});
