// Files that ship beside the code (bin/, bench/pytorch/, native/build/) are found from the package root: two
// folders up from src/<layer>/ under tsx, three from dist/src/<layer>/ once compiled, somewhere else again in a
// bundle. Walking up to the package.json named oodgen covers all of them and survives moving the caller.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let memo: string | undefined;

/** The folder holding oodgen's package.json (a checkout, or node_modules/oodgen once installed). */
export function packageRoot(): string {
  if (memo !== undefined) return memo;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let d = start; ; d = dirname(d)) {
    const pj = join(d, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'oodgen') return (memo = d);
      } catch { /* an unreadable package.json is not ours; keep walking */ }
    }
    if (dirname(d) === d) throw new Error(`oodgen: no package.json named oodgen above ${start}`);
  }
}

/** A path inside the package, e.g. packagePath('bin', 'oodgen.js'). */
export const packagePath = (...parts: string[]): string => join(packageRoot(), ...parts);
