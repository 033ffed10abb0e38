/**
 * `oodgen metrics --id id.json --ood ood.json [--json] [--bootstrap N] [--seed S] [--alpha A]`
 *
 * Scores ID against OoD from two score files. A score file is either what `oodgen score` writes,
 * `{"scores": [...], ...}`, or a bare JSON array of numbers, so that scores from other tools can
 * be compared without conversion. Infinite scores may be the strings "Infinity" / "-Infinity" (as
 * `oodgen score --allow-non-finite` writes them); a NaN score is an error naming the file and the image.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { OodgenError } from '../errors.js';
import { bootstrapMetrics, METRIC_NAMES, oodMetrics, type MetricName, type OodMetrics } from '../eval/metrics.js';
import { formatInterval, markdownTable } from '../eval/report.js';

export interface MetricsOptions {
  id: string;
  ood: string;
  /** Bootstrap replicates for confidence intervals; 0 or absent: none. */
  bootstrap?: number;
  seed?: number;
  alpha?: number;
}

export type MetricsResult = OodMetrics & {
  idFile: string;
  oodFile: string;
  bootstrap?: { reps: number; seed: number; alpha: number } & Record<MetricName, { low: number; high: number }>;
};

/** Reads a score file, naming the file and the exact problem when it is not one. */
export async function loadScores(path: string): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new OodgenError(`${path}: cannot read score file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new OodgenError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  let scores: unknown;
  if (Array.isArray(data)) scores = data;
  else if (data !== null && typeof data === 'object' && Array.isArray((data as { scores?: unknown }).scores)) {
    scores = (data as { scores: unknown[] }).scores;
  } else {
    const what = data !== null && typeof data === 'object' ? `an object with keys [${Object.keys(data).join(', ')}]` : `a ${data === null ? 'null' : typeof data}`;
    throw new OodgenError(`${path}: no scores array: expected {"scores": [...]} or a JSON array of numbers, found ${what}`);
  }
  const arr = scores as unknown[];
  if (arr.length === 0) throw new OodgenError(`${path}: the scores array is empty`);
  const out = new Array<number>(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    // `oodgen score --allow-non-finite` writes infinite scores as the strings "Infinity" / "-Infinity" (JSON has no
    // such numbers); they rank fine. A NaN score has no rank, so it is refused here, naming the image.
    if (typeof v === 'number') out[i] = v;
    else if (v === 'Infinity' || v === '-Infinity') out[i] = Number(v);
    else if (v === 'NaN') {
      throw new OodgenError(`${path}: the score of image ${i} is NaN; a NaN has no rank, so AUROC and the other metrics are undefined (drop or fix that image's score)`);
    } else {
      // JSON.stringify writes NaN and Infinity as null: a null usually means a score that was not finite.
      const hint = v === null ? ' (JSON.stringify writes NaN and Infinity as null: was that score NaN or infinite?)' : '';
      throw new OodgenError(`${path}: non-numeric entry at index ${i}: ${JSON.stringify(v)}${hint}`);
    }
  }
  return out;
}

export async function runMetrics(opts: MetricsOptions): Promise<MetricsResult> {
  const [id, ood] = await Promise.all([loadScores(opts.id), loadScores(opts.ood)]);
  const result: MetricsResult = { ...oodMetrics(id, ood), idFile: opts.id, oodFile: opts.ood };
  if (opts.bootstrap) {
    const bs = bootstrapMetrics(id, ood, { reps: opts.bootstrap, seed: opts.seed, alpha: opts.alpha });
    const ci = { reps: bs.reps, seed: bs.seed, alpha: bs.alpha } as NonNullable<MetricsResult['bootstrap']>;
    for (const name of METRIC_NAMES) ci[name] = { low: bs[name].low, high: bs[name].high };
    result.bootstrap = ci;
  }
  return result;
}

const DIRECTION: Record<MetricName, string> = {
  AUROC: 'higher is better',
  'AUPR-IN': 'higher is better',
  'AUPR-OUT': 'higher is better',
  FPR95TPR: 'lower is better',
};

/** One JSON line (for scripts), or a Markdown table (for people and for pasting into notes). */
export function formatMetricsResult(r: MetricsResult, json: boolean): string {
  if (json) return JSON.stringify(r);
  const bs = r.bootstrap;
  const headers = ['metric', bs ? `value [${+(100 * (1 - bs.alpha)).toPrecision(6)}% CI]` : 'value', ''];
  const rows = METRIC_NAMES.map((name) => [
    name,
    bs ? formatInterval({ value: r[name], ...bs[name] }) : r[name],
    DIRECTION[name],
  ]);
  const sizes = `ID: ${r.nId} scores (${r.idFile}); OoD: ${r.nOod} scores (${r.oodFile}); OoD is the positive class`;
  const foot = bs ? `\n\nPercentile bootstrap, ${bs.reps} replicates, seed ${bs.seed}.` : '';
  return `${sizes}\n\n${markdownTable(headers, rows)}${foot}`;
}

function integerArg(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}

export function registerMetricsCommand(program: Command, io: { write?: (s: string) => void } = {}): Command {
  const write = io.write ?? ((s: string) => void process.stdout.write(s));
  return program
    .command('metrics')
    .description('AUROC, AUPR-IN, AUPR-OUT and FPR@95%TPR of ID vs OoD score files (higher score = more OoD)')
    .requiredOption('--id <file>', 'in-distribution scores: {"scores": [...]} or a JSON array')
    .requiredOption('--ood <file>', 'out-of-distribution scores, same format')
    .option('--json', 'print one JSON line instead of a table')
    .option('--bootstrap <n>', 'bootstrap replicates for confidence intervals (e.g. 1000)', integerArg('--bootstrap', 1))
    .option('--seed <s>', 'seed of the bootstrap resampling', integerArg('--seed', 0), 0)
    .option('--alpha <a>', 'one minus the confidence level of the intervals', (v: string) => {
      const a = Number(v);
      if (!(a > 0 && a < 1)) throw new InvalidArgumentError(`--alpha must be in (0, 1), got "${v}"`);
      return a;
    }, 0.05)
    .action(async (o: { id: string; ood: string; json?: boolean; bootstrap?: number; seed: number; alpha: number }) => {
      const r = await runMetrics({ id: o.id, ood: o.ood, bootstrap: o.bootstrap, seed: o.seed, alpha: o.alpha });
      write(formatMetricsResult(r, !!o.json) + '\n');
    });
}
