/**
 * `oodgen launch --nproc N -- <oodgen command>`: starts N ranks of an oodgen command on this machine, torchrun-style
 * (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1, MASTER_PORT=a free port); `train`, `score` and `eval` take
 * `--nproc N` and go through it. The ranks meet in a c10d process group (src/engine/distributed.ts): training
 * through src/train/ddp.ts, scoring through src/ood/distributed.ts. `oodgen bench ddp` is in bench/cli.ts.
 *
 * Rank 0's stdout is the command's stdout (the other ranks compute the same result); every rank's stderr is shown
 * with a `[rank r]` prefix. When a rank fails, the others get `graceMs` to fail by themselves (their next collective
 * reports the lost peer), then SIGTERM, then SIGKILL: the launcher never waits forever, and exits with the first
 * failing rank's status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { OodgenError } from '../errors.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'oodgen.js');

/** A TCP port free on loopback now (the OS picks it; the rendezvous binds it moments later, as torchrun does). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface LaunchOptions {
  nproc: number;
  /** oodgen arguments of every rank (the command and its options). */
  args: string[];
  masterPort?: number;
  /** ms the surviving ranks get to exit by themselves after one failed (default 10 s). */
  graceMs?: number;
  /** Where rank 0's stdout goes (default process.stdout). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
}

/** Runs the ranks to completion; resolves to the exit status (0, or the first failing rank's). */
export async function launch(o: LaunchOptions): Promise<number> {
  if (!Number.isInteger(o.nproc) || o.nproc < 1) throw new OodgenError(`--nproc must be a positive integer, got ${o.nproc}`);
  if (o.args.length === 0) throw new OodgenError('launch: no oodgen command given (oodgen launch --nproc 2 -- train ...)');
  const port = o.masterPort ?? await freePort();
  const out = o.stdout ?? process.stdout, err = o.stderr ?? process.stderr;
  const grace = o.graceMs ?? Number(process.env.OODGEN_LAUNCH_GRACE_MS ?? 10_000);
  const children: ChildProcess[] = [];
  const exits: Promise<void>[] = [];
  let failure: { rank: number; code: number; how: string } | null = null;
  let killTimer: NodeJS.Timeout | null = null;
  const alive = new Set<number>();

  const stopOthers = (): void => {
    if (killTimer) return;
    killTimer = setTimeout(() => {
      for (const r of alive) {
        err.write(`oodgen launch: rank ${r} still running ${grace} ms after rank ${failure!.rank} failed; sending SIGTERM\n`);
        children[r]!.kill('SIGTERM');
      }
      setTimeout(() => { for (const r of alive) children[r]!.kill('SIGKILL'); }, 5000).unref();
    }, grace);
    killTimer.unref();
  };

  for (let r = 0; r < o.nproc; r++) {
    const child = spawn(process.execPath, [BIN, ...o.args], {
      env: { ...(o.env ?? process.env), RANK: String(r), LOCAL_RANK: String(r), WORLD_SIZE: String(o.nproc), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    alive.add(r);
    if (r === 0) child.stdout!.pipe(out, { end: false });
    else child.stdout!.resume();
    createInterface({ input: child.stderr! }).on('line', (l) => err.write(`[rank ${r}] ${l}\n`));
    exits.push(new Promise((resolve) => {
      child.on('close', (code, signal) => {
        alive.delete(r);
        if ((code !== 0 || signal) && !failure) {
          failure = { rank: r, code: code ?? 1, how: signal ? `signal ${signal}` : `status ${code}` };
          if (alive.size) err.write(`oodgen launch: rank ${r} exited with ${failure.how}; stopping the other ranks\n`);
          stopOthers();
        }
        resolve();
      });
      child.on('error', (e) => {
        alive.delete(r);
        failure ??= { rank: r, code: 1, how: `spawn error ${e.message}` };
        stopOthers();
        resolve();
      });
    }));
  }
  const forward = (sig: NodeJS.Signals): void => { for (const r of alive) children[r]!.kill(sig); };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    await Promise.all(exits);
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    if (killTimer) clearTimeout(killTimer);
  }
  const f = failure as { rank: number; code: number; how: string } | null;
  if (f) err.write(`oodgen launch: failed (rank ${f.rank} exited with ${f.how})\n`);
  return f ? (f.code || 1) : 0;
}

/** argv without `--nproc N` / `--nproc=N`. */
export function withoutNproc(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--nproc') { i++; continue; }
    if (argv[i]!.startsWith('--nproc=')) continue;
    out.push(argv[i]!);
  }
  return out;
}

/**
 * The `--nproc N` hook of train / score / eval: removes `nproc` from the command's options; when N > 1 and this
 * process is not already a rank, re-runs the same command line as N ranks and returns true (the caller stops).
 */
export async function relaunchWithNproc(opts: Record<string, unknown>): Promise<boolean> {
  const raw = opts.nproc;
  delete opts.nproc;
  if (raw === undefined) return false;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new OodgenError(`--nproc must be a positive integer, got '${String(raw)}'`);
  if (n === 1 || process.env.WORLD_SIZE) return false;
  process.exitCode = await launch({ nproc: n, args: withoutNproc(process.argv.slice(2)) });
  return true;
}

export function registerLaunchCommand(program: Command): void {
  program.command('launch')
    .description('run an oodgen command as N data-parallel ranks on this machine (torchrun-style env; c10d Gloo on CPU)')
    .requiredOption('--nproc <n>', 'number of ranks')
    .option('--master-port <port>', 'rendezvous port on 127.0.0.1 (default: a free one)')
    .argument('<command...>', 'the oodgen command and its options, after --')
    .allowUnknownOption()
    .action(async (args: string[], o: { nproc: string; masterPort?: string }) => {
      const port = o.masterPort === undefined ? undefined : Number(o.masterPort);
      if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new OodgenError(`--master-port must be a port number, got '${o.masterPort}'`);
      const threads = program.opts().threads as string | undefined;
      process.exitCode = await launch({ nproc: Number(o.nproc), args: [...(threads ? ['--threads', threads] : []), ...args], ...(port ? { masterPort: port } : {}) });
    });
}
