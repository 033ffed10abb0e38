#!/usr/bin/env node
// The oodgen CLI. Runs the TypeScript sources through tsx so the command always matches the checkout. The
// benchmark commands (bench/cli.ts) live outside src/ and are added here.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const { registerBenchCommands } = await import('../bench/cli.ts');
process.exitCode = await main(process.argv, [registerBenchCommands]);
