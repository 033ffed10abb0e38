// Temporary folders for tests: the one place tests make them, so none is left behind in /tmp.
// `tempDir('ckpt')` makes $TMPDIR/oodgen-ckpt-XXXXXX; it is removed when the test file's process exits, whether its
// tests passed, failed or threw (node:test runs each file in its own process, and 'exit' fires on all of those).
// Pass the test context to remove it as soon as that test ends instead (t.after runs on failure too).
// scripts/run-tests.mjs points TMPDIR at a private folder per run and fails on any oodgen-* folder still there.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();
let hooked = false;

function remove(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  made.delete(dir);
}

/** A fresh empty folder $TMPDIR/oodgen-PREFIX-XXXXXX, removed after the test `t` or else when the process exits. */
export function tempDir(prefix: string, t?: { after(fn: () => void): void }): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(prefix)) throw new Error(`tempDir: prefix '${prefix}' must be lower-case letters, digits and -`);
  const dir = mkdtempSync(join(tmpdir(), `oodgen-${prefix}-`));
  made.add(dir);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => { for (const d of [...made]) remove(d); });
  }
  t?.after(() => remove(dir));
  return dir;
}
