// `oodgen bench ddp`: data-parallel training throughput (images/s) for 1..N ranks of one CPU thread each, through the
// real path: `oodgen --threads 1 launch --nproc N -- train ...` (c10d Gloo over loopback). The per-step time is rank
// 0's msPerStep from log.jsonl (forward, backward, gradient all-reduce, optimizer step; data loading, validation and
// grids excluded), median over the steps after a warm-up; images/s = batch per rank x N / step time.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { launch } from '../src/cli/launch.js';
import { OodgenError } from '../src/errors.js';

export interface DdpBenchOptions {
  ranks?: number[];
  model?: string;
  data?: string;
  batchSize?: number;
  steps?: number;
  warmup?: number;
}

export interface DdpBenchRow { ranks: number; batchPerRank: number; msPerStep: number; imagesPerS: number; steps: number }

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function benchDdp(o: DdpBenchOptions = {}): Promise<{ rows: DdpBenchRow[]; markdown: string; machine: string }> {
  const ranks = o.ranks ?? [1, 2];
  const b = o.batchSize ?? 64, steps = o.steps ?? 30, warmup = o.warmup ?? 5;
  if (steps <= warmup) throw new OodgenError(`bench ddp: --steps (${steps}) must exceed the warm-up (${warmup})`);
  const rows: DdpBenchRow[] = [];
  for (const n of ranks) {
    const dir = mkdtempSync(join(tmpdir(), 'oodgen-bench-ddp-'));
    try {
      const args = ['--threads', '1', 'train', '--model', o.model ?? 'vae', '--data', o.data ?? 'fashion-mnist:train', '--limit', String(b * n * (steps + 2) + 500),
        '--val-limit', '64', '--batch-size', String(b), '--max-steps', String(steps), '--log-every', '1', '--checkpoint-every', String(steps * 10),
        '--progress', 'none', '--out', join(dir, 'run')];
      let errText = '';
      const sink = new Writable({ write(_c, _e, cb) { cb(); } });
      const err = new Writable({ write(c, _e, cb) { errText += c; cb(); } });
      const code = await launch({ nproc: n, args, stdout: sink, stderr: err });
      if (code !== 0) throw new OodgenError(`bench ddp: ${n} rank(s) failed (status ${code}):\n${errText.slice(-2000)}`);
      const ms = readFileSync(join(dir, 'run', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step?: number; msPerStep?: number; event?: string })
        .filter((l) => !l.event && l.msPerStep !== undefined && l.step! > warmup).map((l) => l.msPerStep!);
      const m = median(ms);
      rows.push({ ranks: n, batchPerRank: b, msPerStep: m, imagesPerS: (b * n * 1000) / m, steps: ms.length });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`;
  const markdown = [
    `| ranks (1 thread each) | batch per rank | median ms/step | images/s | speed-up |`,
    `|---|---|---|---|---|`,
    ...rows.map((r) => `| ${r.ranks} | ${r.batchPerRank} | ${r.msPerStep.toFixed(1)} | ${r.imagesPerS.toFixed(0)} | ${(r.imagesPerS / rows[0]!.imagesPerS).toFixed(2)}x |`),
    '',
    `machine: ${machine}; ${new Date().toISOString()}`,
  ].join('\n');
  return { rows, markdown, machine };
}
