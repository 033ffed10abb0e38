// CLI entry: thin commands over the library. User errors (OodgenError, bad options) print one clear line and
// exit 1; anything else is a bug and prints its stack. The native addon loads on first use (src/engine), so
// `oodgen --help` and the data commands never start libtorch although every command module is imported here.
import { Command, CommanderError } from 'commander';
import { OodgenError } from '../errors.js';
import { setNumThreads } from '../engine/device.js';
import { registerScoreCommands } from './score.js';
import { registerEvalCommand } from './eval.js';
import { registerDataCommands } from './data.js';
import { registerMetricsCommand } from './metrics.js';
import { registerLatentCommand } from './latent.js';
import { registerTrainCommands } from './train.js';
import { registerDemoCommand } from './demo.js';
import { registerServeCommand } from './serve.js';
import { registerFitCommand } from './fit.js';
import { registerBenchmarkCommand } from './benchmark.js';
import { registerLaunchCommand } from './launch.js';
import { registerZooCommand } from './zoo.js';

/** Adds commands to the program (the benchmarks in bench/cli.ts, plugins). */
export type Register = (program: Command) => void;

const COMMANDS: Register[] = [
  registerScoreCommands, registerEvalCommand, registerDataCommands, registerMetricsCommand, registerLatentCommand,
  registerTrainCommands, registerDemoCommand, registerServeCommand, registerFitCommand, registerBenchmarkCommand,
  registerLaunchCommand, registerZooCommand,
];

/** The oodgen program with its commands, plus `extra` registrations (bin/oodgen.js adds bench/cli.ts). */
export async function buildProgram(extra: Register[] = []): Promise<Command> {
  const program = new Command('oodgen')
    .description('Out-of-distribution detection with deep generative models (TypeScript over libtorch)')
    .option('--threads <n>', 'CPU threads for libtorch (default: libtorch\'s own choice)')
    .showHelpAfterError()
    .exitOverride();
  program.hook('preAction', (cmd) => {
    const t = cmd.opts().threads ?? program.opts().threads;
    if (t !== undefined) {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 1) throw new OodgenError(`--threads must be a positive integer, got '${t}'`);
      setNumThreads(n);
    }
  });
  for (const register of [...extra, ...COMMANDS]) register(program);
  return program;
}

export async function main(argv: string[], extra: Register[] = []): Promise<number> {
  const program = await buildProgram(extra);
  try {
    await program.parseAsync(argv);
    // A command may set a non-zero status without failing (e.g. `train` interrupted by Ctrl-C: 130).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof OodgenError || (e as Error)?.name === 'OodgenError') {
      process.stderr.write(`oodgen: ${(e as Error).message}\n`);
      return 1;
    }
    process.stderr.write(`oodgen: internal error: ${(e as Error)?.stack ?? e}\n`);
    return 2;
  }
}
