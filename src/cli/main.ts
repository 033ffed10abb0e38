// CLI entry: thin commands over the library. User errors (OodgenError, bad options) print one clear line and
// exit 1; anything else is a bug and prints its stack.
import { Command, CommanderError } from 'commander';
import { OodgenError } from '../errors.js';

type Register = (program: Command) => void;

/**
 * Command modules, loaded lazily so `oodgen --help` does not load libtorch. Literal import() calls (not a
 * computed path) so bundlers can follow them (scripts/gpu/ bundles the CLI for a machine without node_modules).
 */
const MODULES: [() => Promise<Record<string, unknown>>, string][] = [
  [() => import('./bench.js'), 'registerBenchCommands'],
  [() => import('./score.js'), 'registerScoreCommands'],
  [() => import('./data.js'), 'registerDataCommands'],
  [() => import('./metrics.js'), 'registerMetricsCommand'],
  [() => import('./latent.js'), 'registerLatentCommand'],
  [() => import('./train.js'), 'registerTrainCommands'],
  [() => import('./demo.js'), 'registerDemoCommand'],
  [() => import('./launch.js'), 'registerLaunchCommand'],
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('oodgen')
    .description('Out-of-distribution detection with deep generative models (TypeScript over libtorch)')
    .option('--threads <n>', 'CPU threads for libtorch (default: libtorch\'s own choice)')
    .showHelpAfterError()
    .exitOverride();
  program.hook('preAction', async (cmd) => {
    const t = cmd.opts().threads ?? program.opts().threads;
    if (t !== undefined) {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 1) throw new OodgenError(`--threads must be a positive integer, got '${t}'`);
      const { setNumThreads } = await import('../engine/device.js');
      setNumThreads(n);
    }
  });
  for (const [load, name] of MODULES) {
    const mod = await load();
    (mod[name] as Register)(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
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
