#!/usr/bin/env node
// The oodgen CLI. Runs the TypeScript sources through tsx so the command always matches the checkout.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
