// `oodgen benchmark --suite NAME|FILE --out DIR [--limit N]`: runs a suite (src/benchmark) and writes
// results.json, results.md and report.html. The first Ctrl-C lets the unit in progress finish (it is cached), the
// second aborts it (not cached); either way the report of the finished units is written and the exit code is 130,
// and rerunning the same command continues from the cache. A third Ctrl-C kills the process at once.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadSuite } from '../benchmark/suite.js';
import { runBenchmark, type BenchEvent } from '../benchmark/run.js';
import { modelGrids } from '../benchmark/grids.js';
import { writeBenchmarkReport } from '../benchmark/report.js';
import { intArg } from './args.js';
import { OodgenError } from '../errors.js';

export interface BenchmarkCliOptions {
  suite: string;
  out: string;
  limit?: number;
  cache?: string;
  zoo?: string;
  unfinished?: boolean;
  device?: string;
  grids?: boolean;
  signal?: AbortSignal;
  /** Aborts the unit in progress (BenchmarkOptions.stopNow). */
  stopNow?: AbortSignal;
  log?: (s: string) => void;
  /** text (default): progress lines on stderr; json: the JSON events on stderr instead (OUT/log.jsonl has them either way). */
  progress?: 'text' | 'json';
}

/** Runs the suite and writes the report; returns the files and whether it was interrupted. */
export async function runBenchmarkCommand(o: BenchmarkCliOptions): Promise<{ files: string[]; interrupted: boolean; counts: { planned: number; computed: number; cached: number } }> {
  const suite = loadSuite(o.suite);
  // The flags that change what the tables hold (--unfinished adds unconverged models' rows).
  const command = `oodgen benchmark --suite ${o.suite} --out ${o.out}${o.limit ? ` --limit ${o.limit}` : ''}${o.unfinished ? ' --unfinished' : ''}`;
  // Every event, timestamped, appended to OUT/log.jsonl: a resumed run continues the same log.
  mkdirSync(o.out, { recursive: true });
  const logFile = join(o.out, 'log.jsonl');
  const json = o.progress === 'json';
  let logBroken = false;
  const onEvent = (e: BenchEvent) => {
    const line = JSON.stringify({ t: new Date().toISOString(), ...e });
    if (json) o.log?.(line);
    if (logBroken) return;
    // The log is a record beside the results, not the results: a full disk or a removed folder costs the log (said
    // once), not the run.
    try { appendFileSync(logFile, line + '\n'); } catch (err) {
      logBroken = true;
      o.log?.(`cannot append to ${logFile} (${(err as Error).message}); the run goes on without its JSON log`);
    }
  };
  const r = await runBenchmark({
    suite, limit: o.limit, cacheDir: o.cache ?? join(o.out, 'cache'), zoo: o.zoo, unfinished: o.unfinished, device: o.device, signal: o.signal, stopNow: o.stopNow,
    log: json ? undefined : o.log, onEvent, progressBars: !json,
  });
  const grids = o.grids === false || r.interrupted ? [] : await modelGrids(r, { device: o.device, seed: suite.seed });
  const files = await writeBenchmarkReport(r, o.out, { command, grids });
  return { files, interrupted: r.interrupted, counts: r.counts };
}

export function registerBenchmarkCommand(program: Command, io: { write?: (s: string) => void; log?: (s: string) => void } = {}): void {
  const write = io.write ?? ((s: string) => void process.stdout.write(s));
  const log = io.log ?? ((s: string) => void process.stderr.write(s + '\n'));
  program.command('benchmark')
    .description('run a benchmark suite (built in: seed, detectors; or a JSON file): models x detectors x BN modes x ID/OoD pairs -> results.json, results.md, report.html; cached by content, so a rerun continues')
    .requiredOption('--suite <name|file>', 'seed | detectors | a suite JSON file')
    .requiredOption('--out <dir>', 'output folder')
    .option('--limit <n>', 'at most this many images per set (caps the suite\'s limits)', intArg('--limit', 1))
    .option('--cache <dir>', 'cache of fitted detectors and scores (default OUT/cache)')
    .option('--zoo <dir>', 'where zoo names are looked up (default: OODGEN_ZOO or <repo>/zoo)')
    .option('--unfinished', 'also score run folders still training (state.json done: false) and zoo models exported mid-run (status.json done: false), their weights as they are now, their rows marked "(not converged)"; refused by default')
    .option('--no-grids', 'no sample / reconstruction grids in report.html')
    .option('--device <device>', 'cpu | cuda', 'cpu')
    .option('--progress <mode>', 'text (progress lines and bars on stderr) | json (one JSON event per line on stderr); OUT/log.jsonl gets the JSON events either way', 'text')
    .action(async (o) => {
      if (o.progress !== 'text' && o.progress !== 'json') throw new OodgenError(`--progress must be text or json, got '${o.progress}'`);
      // Scoring yields to the event loop between batches and optimizer steps (BenchmarkOptions.stopNow), so these
      // run within about a step even in likelihood regret's long units.
      const finish = new AbortController(), now = new AbortController();
      let presses = 0;
      const onInt = () => {
        presses++;
        if (presses === 1) {
          log('interrupt: finishing the unit in progress (it will be cached), then stopping; Ctrl-C again to abort it now (its work is lost)');
          finish.abort();
        } else {
          log('interrupt: aborting the unit in progress (not cached; a rerun computes it); Ctrl-C again to kill the process at once');
          now.abort();
          // A third Ctrl-C gets Node's default (the process ends), should anything not reach a pause.
          process.off('SIGINT', onInt);
        }
      };
      process.on('SIGINT', onInt);
      try {
        const r = await runBenchmarkCommand({ ...o, signal: finish.signal, stopNow: now.signal, log });
        write(`${r.files.join('\n')}\n`);
        if (r.interrupted) {
          log(`interrupted after ${r.counts.computed + r.counts.cached} of ${r.counts.planned} units; rerun the same command to continue`);
          process.exitCode = 130;
        }
      } finally {
        process.off('SIGINT', onInt);
      }
    });
}
