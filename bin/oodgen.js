#!/usr/bin/env node
// The oodgen CLI. In a checkout (src/ present) it runs the TypeScript sources through tsx, so the command always
// matches the working tree even when a dist/ from an earlier build is lying around; the installed package ships
// only the compiled dist/ and never loads tsx.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import('../dist/src/cli/main.js'));
}
process.exitCode = await main(process.argv);
