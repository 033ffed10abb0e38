#!/usr/bin/env node
// The oodgen CLI. In a checkout (src/ present) it runs the TypeScript sources through tsx, so the command always
// matches the working tree even when a dist/ from an earlier build is lying around; the installed package ships
// only the compiled dist/ and never loads tsx. The benchmark commands (bench/cli.ts) live outside src/ (product
// code never imports them) and are added here.
import { existsSync } from 'node:fs';
import { applyBlasThreads } from './threads-env.js';

// Before anything loads libtorch (and with it OpenBLAS): see threads-env.js.
applyBlasThreads(process.argv.slice(2), process.env);

const source = new URL('../src/cli/main.ts', import.meta.url);
let main;
let registerBenchCommands;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  // OPENBLAS_CORETYPE (src/engine/blas-core.ts) in this process's environment before anything else, so the child
  // processes it starts (benchmark references in PyTorch, data-parallel ranks) choose the same BLAS kernels.
  (await import(new URL('../src/engine/blas-core.ts', import.meta.url).href)).applyOpenblasCoreType();
  ({ main } = await import(source.href));
  ({ registerBenchCommands } = await import(new URL('../bench/cli.ts', import.meta.url).href));
} else {
  (await import('../dist/src/engine/blas-core.js')).applyOpenblasCoreType();
  ({ main } = await import('../dist/src/cli/main.js'));
  ({ registerBenchCommands } = await import('../dist/bench/cli.js'));
}
process.exitCode = await main(process.argv, [registerBenchCommands]);
