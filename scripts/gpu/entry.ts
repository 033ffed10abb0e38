// Entry point for the single-file CLI bundle used on GPU machines that have Node but no node_modules
// (see scripts/gpu/README.md). Same commands as bin/oodgen.js.
import { main } from '../../src/cli/main.js';
import { registerBenchCommands } from '../../bench/cli.js';

process.exitCode = await main(process.argv, [registerBenchCommands]);
