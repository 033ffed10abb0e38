// The Python interpreter of the oracle scripts (Debian's python3-torch, scikit-learn) and whether it has torch.
// Tests that need it pass `{ skip: torchSkip }` so they report themselves as skipped, never pass without asserting.
// OODGEN_PYTHON overrides the interpreter (as for `oodgen bench`); OODGEN_PYTHON=/bin/false shows the skips.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PY = process.env.OODGEN_PYTHON ?? '/usr/bin/python3';
export const ROOT = new URL('../..', import.meta.url).pathname;
export const hasTorch = existsSync(PY) && spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
/** `false` when torch is importable, else the reason to skip. */
export const torchSkip: string | false = hasTorch ? false : `needs ${PY} with torch ("${PY} -c 'import torch'" fails)`;

/** Runs a Python script of the repository with arguments; throws with its stderr when it fails. */
export function runPython(script: string, args: string[], timeoutMs = 120_000): string {
  const r = spawnSync(PY, [script, ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${script} failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);
  return r.stdout;
}
