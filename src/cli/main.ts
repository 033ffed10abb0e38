// CLI entry: thin commands over the library. User errors (OodgenError, bad options) print one clear line and
// exit 1; anything else is a bug and prints its stack.
import { Command, CommanderError } from 'commander';
import { OodgenError } from '../errors.js';

type Register = (program: Command) => void;

/** Command modules, loaded lazily so `oodgen --help` does not load libtorch. */
const MODULES: [string, string][] = [
  ['./bench.js', 'registerBenchCommands'],
  ['./data.js', 'registerDataCommands'],
  ['./metrics.js', 'registerMetricsCommand'],
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
  for (const [path, name] of MODULES) {
    let mod: Record<string, unknown>;
    try {
      mod = await import(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(path.slice(2, -3))) continue;
      throw e;
    }
    (mod[name] as Register)(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
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
