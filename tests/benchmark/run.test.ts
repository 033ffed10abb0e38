// The benchmark runner on a tiny fake zoo: numbers equal a direct src/ood evaluate() call, AUROC equals a pair count
// over the stored scores, a rerun computes nothing, an interrupted run continues where it stopped, new weights
// invalidate the cache, and `oodgen benchmark` writes results.json / results.md / report.html.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { evaluate, liveTensors, loadDataset } from '../../src/index.js';
import { parseSuite, type Suite } from '../../src/benchmark/suite.js';
import { runBenchmark, allRows, etaText, timingKey, planBenchmark } from '../../src/benchmark/run.js';
import { b64ToF32 } from '../../src/benchmark/cache.js';
import { resultsJson, resultsMarkdown } from '../../src/benchmark/report.js';
import { loadRun } from '../../src/train/run.js';
import { Command } from 'commander';
import { registerBenchmarkCommand, runBenchmarkCommand } from '../../src/cli/benchmark.js';
import { buildProgram } from '../../src/cli/main.js';
import { SYNTH_PAIRS, TINY, writeRun, writeZoo } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = tempDir('bench');
after(() => rmSync(dir, { recursive: true, force: true }));
const zoo = join(dir, 'zoo');
writeZoo(zoo);

const suite = (extra: Record<string, unknown> = {}): Suite => parseSuite({
  name: 'tiny', description: 'test suite', limit: 24, fitLimit: 16, bootstrap: 10, batchSize: 8,
  experiments: [{
    name: 'a', models: [{ run: 'tiny-vae', background: 'tiny-bg' }, 'tiny-ae'],
    detectors: ['elbo', 'rec', 'mahalanobis-latent', 'likelihood-ratio'], bn: ['eval', 'enc'], pairs: SYNTH_PAIRS, options: { k: 4 }, recon: 4,
  }],
  ...extra,
}, 'test');

/** AUROC as P(OoD score > ID score) + 0.5 P(tie), by counting pairs (Mann-Whitney), independent of eval/metrics. */
function pairAuroc(id: Float32Array, ood: Float32Array): number {
  let s = 0;
  for (const o of ood) for (const i of id) s += o > i ? 1 : o === i ? 0.5 : 0;
  return s / (id.length * ood.length);
}

test('runner: same numbers as evaluate(), AUROC = pair count, rerun from cache, Ctrl-C and continue', async () => {
  const base = liveTensors();
  const cacheDir = join(dir, 'cache1');
  // Interrupt after two units have run: the abort is checked between units.
  const ac = new AbortController();
  let ran = 0;
  const r1 = await runBenchmark({ suite: suite(), cacheDir, zoo, signal: ac.signal, progressBars: false, log: (s) => { if (/: [0-9.]+ s; /.test(s) && ++ran === 2) ac.abort(); } });
  assert.equal(r1.interrupted, true);
  assert.equal(r1.counts.computed, 2);
  // tiny-vae: 4 detectors x 2 BN modes; tiny-ae: rec x 2 modes (elbo: no likelihood; mahalanobis-latent: no posterior;
  // likelihood-ratio: no background model given).
  assert.equal(r1.counts.planned, 10);
  assert.deepEqual(r1.skipped.map((s) => s.what).sort(), ['a: tiny-ae / elbo', 'a: tiny-ae / likelihood-ratio', 'a: tiny-ae / mahalanobis-latent']);

  const r2 = await runBenchmark({ suite: suite(), cacheDir, zoo, progressBars: false });
  assert.equal(r2.interrupted, false);
  assert.deepEqual(r2.counts, { planned: 10, computed: 8, cached: 2 });
  const r3 = await runBenchmark({ suite: suite(), cacheDir, zoo, progressBars: false });
  assert.deepEqual(r3.counts, { planned: 10, computed: 0, cached: 10 });
  assert.deepEqual(allRows(r3), allRows(r2));

  // Rows: 2 pairs per unit; elbo/rec/mahalanobis/likelihood-ratio have one report row each.
  const rows = allRows(r2);
  assert.equal(rows.length, 20);
  for (const u of r2.units) {
    for (const row of u.rows) {
      const s = u.series.find((x) => x.row === row.score)!;
      const id = b64ToF32(s.id), ood = b64ToF32(s.ood[row.pair]!);
      assert.equal(id.length, 24);
      assert.ok(Math.abs(pairAuroc(id, ood) - row.AUROC) < 1e-12, `${u.model}/${row.score}/${row.pair}`);
      assert.ok(row.ci && row.ci.AUROC[0] <= row.AUROC + 1e-12 && row.AUROC <= row.ci.AUROC[1] + 1e-12);
    }
  }

  // The runner passes model, data, options, seed and limits through unchanged: evaluate() directly gives the same rows.
  const run = loadRun(join(zoo, 'tiny-vae'));
  const bg = loadRun(join(zoo, 'tiny-bg'));
  try {
    const load = async (spec: string) => {
      const r = await loadDataset(spec, { imageSize: 28, channels: 1, limit: 24, seed: 0 });
      return { ...r.set, name: spec };
    };
    const direct = await evaluate({
      model: run.model, detectors: ['elbo'], id: await load('gaussian-noise:24'), ood: [await load('noise:24'), await load('constant:24')],
      bn: ['enc'], detectorOptions: { k: 4 }, batchSize: 8, seed: 0, bootstrap: 10, progressBars: false,
    });
    const mine = rows.filter((x) => x.model === 'tiny-vae' && x.score === 'elbo' && x.bn === 'enc');
    assert.equal(mine.length, 2);
    mine.forEach((x, j) => {
      assert.equal(x.AUROC, direct.rows[j]!.AUROC);
      assert.deepEqual(x.ci, direct.rows[j]!.ci);
    });
    // likelihood-ratio used the background model: LLR = log p(x) - log p_bg(x) is not the plain likelihood.
    const lr = rows.find((x) => x.score === 'likelihood-ratio' && x.pair === 'g-const' && x.bn === 'eval')!;
    assert.ok(Number.isFinite(lr.AUROC));
  } finally {
    run.model.dispose();
    bg.model.dispose();
  }
  assert.equal(liveTensors(), base);
});

test('new weights or new options invalidate only the affected units', async () => {
  const z = join(dir, 'zoo2');
  writeZoo(z);
  const cacheDir = join(dir, 'cache2');
  const s = suite({ experiments: [{ name: 'a', models: ['tiny-vae', 'tiny-ae'], detectors: ['rec'], bn: ['eval'], pairs: SYNTH_PAIRS }] });
  assert.deepEqual((await runBenchmark({ suite: s, cacheDir, zoo: z, progressBars: false })).counts, { planned: 2, computed: 2, cached: 0 });
  writeRun(z, 'tiny-vae', TINY, 99); // retrained: other weights
  assert.deepEqual((await runBenchmark({ suite: s, cacheDir, zoo: z, progressBars: false })).counts, { planned: 2, computed: 1, cached: 1 });
  const s2 = suite({ limit: 20, experiments: [{ name: 'a', models: ['tiny-vae', 'tiny-ae'], detectors: ['rec'], bn: ['eval'], pairs: SYNTH_PAIRS }] });
  assert.deepEqual((await runBenchmark({ suite: s2, cacheDir, zoo: z, progressBars: false })).counts, { planned: 2, computed: 2, cached: 0 });
  // --limit caps the suite's limit.
  const capped = await runBenchmark({ suite: s2, cacheDir, zoo: z, limit: 10, progressBars: false });
  assert.ok(allRows(capped).every((x) => x.nId === 10 && x.nOod === 10));
});

test('a unit that fails with a user error is reported and the suite goes on', async () => {
  const z = join(dir, 'zoo3');
  writeRun(z, 'in-mem', TINY, 5, 'in-memory'); // no training data to fit detectors on
  const s = suite({ experiments: [{ name: 'a', models: ['in-mem'], detectors: ['mahalanobis-latent', 'rec'], bn: ['eval'], pairs: SYNTH_PAIRS }] });
  const r = await runBenchmark({ suite: s, cacheDir: join(dir, 'cache3'), zoo: z, progressBars: false });
  assert.deepEqual(r.counts, { planned: 2, computed: 1, cached: 0 });
  assert.deepEqual(allRows(r).map((x) => x.score), ['rec', 'rec']);
  // A unit cached before `images` was recorded still gets its cost row: ID once plus each pair's OoD set, from its rows.
  const old = { ...r, units: r.units.map(({ images: _i, load: _l, ...u }) => ({ ...u, seconds: 2 })) };
  assert.match(resultsMarkdown(old, 'x'), /\| a +\| in-mem +\| rec +\| eval \| 72 +\| 2\.0 +\| 36\.0+ +\| +\|/);
  assert.equal(r.skipped.length, 1);
  assert.match(r.skipped[0]!.why, /^failed: .*in-memory images/);
  // A batch detector with fewer images per set than one batch is skipped at planning, with the reason.
  const b = suite({ batchSize: 100, experiments: [{ name: 'b', models: ['tiny-vae'], detectors: ['typicality-batch'], bn: ['eval'], pairs: SYNTH_PAIRS }] });
  const rb = await runBenchmark({ suite: b, cacheDir: join(dir, 'cache3'), zoo, progressBars: false });
  assert.equal(rb.counts.planned, 0);
  assert.match(rb.skipped[0]!.why, /batches of 100 images; at most 24 images per set give no batch/);
});

test('oodgen benchmark --suite FILE --out DIR --limit N writes results.json, results.md and report.html', async () => {
  const out = join(dir, 'out');
  const file = join(dir, 'suite.json');
  writeFileSync(file, JSON.stringify({
    name: 'cli', limit: 24, fitLimit: 16, bootstrap: 10, batchSize: 8,
    experiments: [{ name: 'a', models: ['tiny-vae'], detectors: ['elbo', 'typicality-batch'], bn: ['eval'], pairs: [...SYNTH_PAIRS, 'cifar10-cifar100'], recon: 4 }],
  }));
  const prevZoo = process.env.OODGEN_ZOO;
  const prevData = process.env.OODGEN_DATA;
  process.env.OODGEN_ZOO = zoo;
  // An empty data cache: the cifar10-cifar100 pair is skipped even where the developer has fetched CIFAR-100.
  process.env.OODGEN_DATA = join(dir, 'no-data');
  let text = '';
  const logs: string[] = [];
  try {
    const program = new Command('oodgen').exitOverride();
    registerBenchmarkCommand(program, { write: (s) => { text += s; }, log: (s) => logs.push(s) });
    await program.parseAsync(['node', 'oodgen', 'benchmark', '--suite', file, '--out', out, '--limit', '16', '--unfinished']);
  } finally {
    if (prevZoo === undefined) delete process.env.OODGEN_ZOO; else process.env.OODGEN_ZOO = prevZoo;
    if (prevData === undefined) delete process.env.OODGEN_DATA; else process.env.OODGEN_DATA = prevData;
  }
  // Progress: what runs, and the time left.
  assert.ok(logs.some((l) => /^\[1\/2\] a: tiny-vae \/ elbo \/ bn=eval \/ gaussian-noise:24 vs g-noise, g-const: running/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /\[2\/2\].*: [0-9.]+ s; 0 to run, about [0-9]+ s left/.test(l)), logs.join('\n'));
  for (const f of ['results.json', 'results.md', 'report.html']) assert.ok(text.includes(join(out, f)) && existsSync(join(out, f)), f);
  const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(j.complete, true);
  // The recorded command keeps the flags that change what the tables hold.
  assert.equal(j.command, `oodgen benchmark --suite ${file} --out ${out} --limit 16 --unfinished`);
  assert.equal(j.rows.length, 4);
  assert.ok(j.rows.filter((r: { score: string }) => r.score === 'elbo').every((r: { nId: number; nOod: number }) => r.nId === 16 && r.nOod === 16));
  // typicality-batch scores batches of 8 images: 16 images -> 2 scores per set.
  const tb = j.rows.find((r: { score: string }) => r.score === 'typicality-batch');
  assert.equal(tb.granularity, 'batch');
  assert.equal(tb.nId, 2);
  assert.ok(j.skipped.some((s: { what: string; why: string }) => /pair cifar10-cifar100/.test(s.what) && /oodgen data fetch/.test(s.why)), JSON.stringify(j.skipped));
  const md = readFileSync(join(out, 'results.md'), 'utf8');
  assert.match(md, /\| tiny-vae \| elbo +\| per-sample \| eval \| g-noise/);
  assert.match(md, /typicality-batch \| batch/);
  assert.match(md, /## Skipped\n\n- a: pair cifar10-cifar100/);
  // Cost: each computed unit's images (16 ID + 2 x 16 OoD), seconds, images/s and the load it ran under.
  for (const det of ['elbo', 'typicality-batch']) {
    const m = new RegExp(`\\| a +\\| tiny-vae \\| ${det} +\\| eval \\| 48 +\\| ([0-9.]+) +\\| ([0-9.e+]+) +\\| ([0-9.]+) +\\|`).exec(md);
    assert.ok(m, `cost row of ${det}:\n${md}`);
    const unit = j.units.find((u: { detector: string }) => u.detector === det);
    assert.ok(Math.abs(48 / unit.seconds - Number(m[2])) / Number(m[2]) < 0.005, `images/s = images / seconds (${m[0]}, ${unit.seconds} s)`);
  }
  assert.ok(j.units.every((u: { images: number; load: number }) => u.images === 48 && Number.isFinite(u.load)));
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok(!/(src|href)="https?:/.test(html), 'no network resources');
  assert.match(html, /data:image\/png;base64,/);
  // OUT/log.jsonl: the plan, each unit running then done (with its seconds and the time left), the end.
  const events = () => readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const ev1 = events();
  assert.deepEqual(ev1.map((e) => [e.event, e.status ?? null, e.detector ?? null]), [
    ['plan', null, null], ['unit', 'running', 'elbo'], ['unit', 'done', 'elbo'], ['unit', 'running', 'typicality-batch'], ['unit', 'done', 'typicality-batch'], ['end', null, null],
  ]);
  assert.ok(ev1.every((e) => typeof e.t === 'string' && !Number.isNaN(Date.parse(e.t as string))));
  assert.deepEqual(ev1[0], { ...ev1[0], suite: 'cli', planned: 2, toRun: 2, cached: 0 });
  const done = ev1.filter((e) => e.status === 'done');
  assert.ok(done.every((e) => typeof e.seconds === 'number' && (e.seconds as number) > 0));
  assert.deepEqual(done.map((e) => e.toRun), [1, 0]);
  // After the first unit the second (another detector, no time of its own yet) is named as untimed.
  assert.deepEqual((done[0]!.eta as { untimed: unknown }).untimed, { units: 1, detectors: ['typicality-batch'] });
  assert.deepEqual(ev1.at(-1), { ...ev1.at(-1), planned: 2, computed: 2, cached: 0, interrupted: false });
  // --progress json: the events on stderr instead of the text lines; a rerun appends to the same log.
  const jsonLogs: string[] = [];
  process.env.OODGEN_ZOO = zoo;
  try {
    const program = new Command('oodgen').exitOverride();
    registerBenchmarkCommand(program, { write: () => undefined, log: (s) => jsonLogs.push(s) });
    await program.parseAsync(['node', 'oodgen', 'benchmark', '--suite', file, '--out', out, '--limit', '16', '--progress', 'json']);
  } finally {
    if (prevZoo === undefined) delete process.env.OODGEN_ZOO; else process.env.OODGEN_ZOO = prevZoo;
  }
  const parsed = jsonLogs.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(parsed.map((e) => [e.event, e.status ?? null]), [['plan', null], ['unit', 'cached'], ['unit', 'cached'], ['end', null]]);
  assert.deepEqual(events().slice(ev1.length), parsed);
});

test('an unwritable OUT/log.jsonl costs the log, said once, not the run', async () => {
  const out = join(dir, 'out-badlog');
  mkdirSync(join(out, 'log.jsonl'), { recursive: true }); // a folder where the log file should be: every append fails
  const logs: string[] = [];
  const s = join(dir, 'suite-badlog.json');
  writeFileSync(s, JSON.stringify({ name: 'badlog', limit: 8, bootstrap: 0, batchSize: 8, experiments: [{ name: 'a', models: ['tiny-vae'], detectors: ['elbo'], bn: ['eval'], pairs: SYNTH_PAIRS.slice(0, 1), recon: 0 }] }));
  const r = await runBenchmarkCommand({ suite: s, out, zoo, grids: false, log: (l) => logs.push(l) });
  assert.deepEqual(r.counts, { planned: 1, computed: 1, cached: 0 });
  assert.ok(existsSync(join(out, 'results.md')));
  assert.equal(logs.filter((l) => l.startsWith(`cannot append to ${join(out, 'log.jsonl')} (`) && l.endsWith('the run goes on without its JSON log')).length, 1, logs.join('\n'));
});

test('`oodgen benchmark` is registered in the CLI', async () => {
  const program = await buildProgram();
  assert.ok(program.commands.some((c) => c.name() === 'benchmark'));
});

test('Ctrl-C: `oodgen benchmark` stops after the unit in progress, exits 130, and a rerun continues', async () => {
  const out = join(dir, 'sigint');
  const file = join(dir, 'sigint.json');
  // Units of a second or more (IWAE, K = 50, 300 images per set) so the signal lands while the first one runs.
  writeFileSync(file, JSON.stringify({
    name: 'sigint', limit: 300, bootstrap: 0, batchSize: 100,
    experiments: [{ name: 'a', models: ['tiny-vae'], detectors: ['iwae'], bn: ['eval', 'enc'], pairs: [{ name: 'n', id: 'gaussian-noise:300', ood: 'noise:300' }], options: { k: 50 }, recon: 0 }],
  }));
  const cli = (onLine?: (line: string, child: ChildProcess) => void) => new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'oodgen.js'), '--threads', '1', 'benchmark', '--suite', file, '--out', out], {
      env: { ...process.env, OODGEN_ZOO: zoo }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      for (const line of d.split('\n')) onLine?.(line, child);
    });
    child.on('close', (code) => resolve({ code, err }));
  });
  let sent = false;
  const first = await cli((line, child) => { if (!sent && /^\[1\/2\] .*: running/.test(line)) { sent = true; child.kill('SIGINT'); } });
  assert.equal(first.code, 130, first.err);
  assert.match(first.err, /interrupted after 1 of 2 units; rerun the same command to continue/);
  assert.match(readFileSync(join(out, 'results.md'), 'utf8'), /\*\*interrupted\*\*/);
  assert.equal(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).complete, false);
  const second = await cli();
  assert.equal(second.code, 0, second.err);
  assert.match(second.err, /suite sigint: 2 units \(1 cached, 1 to run\)/);
  const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(j.complete, true);
  assert.deepEqual(j.counts, { planned: 2, computed: 1, cached: 1 });
});

test('Ctrl-C twice: the unit in progress (likelihood regret, inside a batch) is aborted, not cached, exit 130; a rerun computes it', async () => {
  const out = join(dir, 'sigint2');
  const file = join(dir, 'sigint2.json');
  // One unit of likelihood regret with 600 Adam steps per group (several seconds): the signals land inside its first batch.
  writeFileSync(file, JSON.stringify({
    name: 'sigint2', limit: 8, bootstrap: 0, batchSize: 8,
    experiments: [{ name: 'a', models: ['tiny-vae'], detectors: ['likelihood-regret'], bn: ['eval'], pairs: [{ name: 'n', id: 'gaussian-noise:8', ood: 'noise:8' }], options: { k: 4, steps: 600 }, recon: 0 }],
  }));
  const cli = (onLine?: (line: string, child: ChildProcess) => void) => new Promise<{ code: number | null; err: string; exitAt: number }>((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'oodgen.js'), '--threads', '1', 'benchmark', '--suite', file, '--out', out, '--no-grids'], {
      env: { ...process.env, OODGEN_ZOO: zoo }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      for (const line of d.split('\n')) onLine?.(line, child);
    });
    child.on('close', (code) => resolve({ code, err, exitAt: Date.now() }));
  });
  let secondAt = 0;
  const first = await cli((line, child) => {
    if (/^\[1\/1\] .*: running/.test(line)) child.kill('SIGINT');
    // The first Ctrl-C's handler ran while the unit was scoring: the second one aborts it.
    if (/^interrupt: finishing the unit in progress/.test(line)) { secondAt = Date.now(); child.kill('SIGINT'); }
  });
  assert.equal(first.code, 130, first.err);
  assert.ok(secondAt > 0, first.err);
  assert.match(first.err, /interrupt: aborting the unit in progress \(not cached; a rerun computes it\)/);
  assert.match(first.err, /\[1\/1\] a: tiny-vae \/ likelihood-regret .*: interrupted after [0-9.]+ s; not cached/);
  assert.doesNotMatch(first.err, /: [0-9.]+ s; 0 to run/, 'the unit did not run to its end');
  assert.match(first.err, /interrupted after 0 of 1 units; rerun the same command to continue/);
  // Generous (a loaded machine): the abort is seen at the next Adam step, milliseconds here.
  assert.ok(first.exitAt - secondAt < 60_000, `exited ${first.exitAt - secondAt} ms after the second Ctrl-C`);
  const j1 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(j1.complete, false);
  assert.deepEqual(j1.counts, { planned: 1, computed: 0, cached: 0 });
  assert.equal(j1.rows.length, 0);
  const second = await cli();
  assert.equal(second.code, 0, second.err);
  assert.match(second.err, /suite sigint2: 1 units \(0 cached, 1 to run\)/);
  const j2 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(j2.complete, true);
  assert.deepEqual(j2.counts, { planned: 1, computed: 1, cached: 0 });
  assert.ok(j2.rows.length === 1 && Number.isFinite(j2.rows[0].AUROC));
});

test('stopNow in process: the unit is aborted inside its batch, nothing cached, native memory back to baseline', async () => {
  const base = liveTensors();
  // 10^6 Adam steps per group: the unit would run for hours unless the abort is seen inside its first batch.
  const s = suite({ bootstrap: 0, experiments: [{ name: 'a', models: ['tiny-vae'], detectors: ['likelihood-regret'], bn: ['eval'], pairs: [SYNTH_PAIRS[0]!], options: { k: 4, steps: 1_000_000 } }] });
  const finish = new AbortController(), now = new AbortController();
  const logs: string[] = [];
  const r = await runBenchmark({
    suite: s, cacheDir: join(dir, 'cache-now'), zoo, signal: finish.signal, stopNow: now.signal, progressBars: false,
    log: (l) => { logs.push(l); if (/: running/.test(l)) setTimeout(() => { finish.abort(); now.abort(); }, 300); },
  });
  assert.equal(r.interrupted, true);
  assert.deepEqual(r.counts, { planned: 1, computed: 0, cached: 0 });
  assert.equal(r.units.length, 0);
  assert.ok(logs.some((l) => /: interrupted after [0-9.]+ s; not cached/.test(l)), logs.join('\n'));
  assert.equal(liveTensors(), base);
  // Nothing was cached: the plan still has the unit to run.
  const again = await runBenchmark({ suite: s, cacheDir: join(dir, 'cache-now'), zoo, stopNow: AbortSignal.abort(), progressBars: false });
  assert.deepEqual(again.counts, { planned: 1, computed: 0, cached: 0 });
});

test('a unit listed by two experiments runs once and is labelled with each experiment', async () => {
  const s = suite({ experiments: [
    { name: 'first', models: ['tiny-vae'], detectors: ['elbo'], bn: ['eval'], pairs: SYNTH_PAIRS },
    { name: 'second', models: ['tiny-vae'], detectors: ['elbo'], bn: ['eval'], pairs: SYNTH_PAIRS },
  ] });
  const logs: string[] = [];
  const r = await runBenchmark({ suite: s, cacheDir: join(dir, 'cache-dup'), zoo, progressBars: false, log: (l) => logs.push(l) });
  assert.deepEqual(r.counts, { planned: 2, computed: 1, cached: 1 });
  assert.match(logs[0]!, /2 units \(1 cached, 1 to run\)/);
  assert.deepEqual(r.units.map((u) => u.experiment), ['first', 'second']);
  assert.deepEqual(allRows(r).map((x) => x.experiment), ['first', 'first', 'second', 'second']);
  assert.deepEqual(allRows(r).filter((x) => x.experiment === 'second').map((x) => x.AUROC), allRows(r).filter((x) => x.experiment === 'first').map((x) => x.AUROC));
});

test('ETA: seconds per image keyed by (model, detector); other models\' times scaled by relative cost as a fallback; untimed detectors named', async () => {
  // A categorical VAE's likelihood costs far more per image than a Gaussian one's: its own rate must be used.
  const timed = new Map([[timingKey('cat', 'elbo'), { s: 100, n: 100 }], [timingKey('gauss', 'elbo'), { s: 3, n: 100 }], [timingKey('gauss', 'rec'), { s: 1, n: 100 }]]);
  assert.equal(etaText([], new Map()), 'ETA after the first unit');
  assert.equal(etaText([{ model: 'cat', detector: 'elbo', images: 200 }], timed), 'about 3 min 20 s left'); // 1 s/image x 200
  assert.equal(etaText([{ model: 'gauss', detector: 'elbo', images: 200 }], timed), 'about 6 s left'); // 0.03 s/image x 200
  // bern/elbo not timed: the mean over cat and gauss, (100 + 3) / 200 s per image; bern/rec: gauss's rec.
  assert.equal(etaText([{ model: 'bern', detector: 'elbo', images: 1000 }, { model: 'bern', detector: 'rec', images: 600 }], timed),
    'about 8 min 41 s left (2 units estimated from the detector\'s time on other models)'); // 515 + 6 s
  // cat/rec not timed: gauss's rec scaled by what cat costs over gauss on elbo, timed on both: 0.01 x (1 / 0.03) s/image.
  assert.equal(etaText([{ model: 'cat', detector: 'rec', images: 300 }], timed), 'about 1 min 40 s left (1 unit estimated from the detector\'s time on other models)');
  // With a third model timed on rec only, nothing in common with cat: its unscaled time is not mixed in.
  assert.equal(etaText([{ model: 'cat', detector: 'rec', images: 300 }], new Map([...timed, [timingKey('ae', 'rec'), { s: 50, n: 100 }]])),
    'about 1 min 40 s left (1 unit estimated from the detector\'s time on other models)');
  assert.equal(etaText([{ model: 'cat', detector: 'iwae', images: 10 }], timed), 'time left unknown: 1 unit of detectors not timed yet (iwae)');
  assert.equal(etaText([{ model: 'cat', detector: 'elbo', images: 10 }, { model: 'cat', detector: 'iwae', images: 10 }, { model: 'gauss', detector: 'lpath', images: 10 }], timed),
    'about 10 s left, plus 2 units of detectors not timed yet (iwae, lpath)');
  // In a run: the second model's rec unit, before it has run, is estimated from the first model's rec time.
  const logs: string[] = [];
  const s = suite({ experiments: [{ name: 'a', models: ['tiny-vae', 'tiny-ae'], detectors: ['rec'], bn: ['eval'], pairs: SYNTH_PAIRS }] });
  await runBenchmark({ suite: s, cacheDir: join(dir, 'cache-eta'), zoo, progressBars: false, log: (l) => logs.push(l) });
  assert.ok(logs.some((l) => /^\[1\/2\] .*tiny-vae \/ rec .*: [0-9.]+ s; 1 to run, about [0-9]+ s left \(1 unit estimated from the detector's time on other models\)$/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /^\[2\/2\] .*tiny-ae \/ rec .*: running \(about [0-9]+ s left \(1 unit estimated/.test(l)), logs.join('\n'));
  // A rerun that adds a model to a cached suite: the cached units' recorded times give the ETA from the first unit
  // to run (before, "ETA after the first unit"). tiny-vae's rec and elbo/components are cached; tiny-ae is new, of
  // another architecture: its rec borrows tiny-vae's.
  const cacheDir = join(dir, 'cache-eta2');
  const ex = (models: string[]) => suite({ experiments: [{ name: 'a', models, detectors: ['rec', 'components', 'elbo'], bn: ['eval'], pairs: SYNTH_PAIRS }] });
  const r1 = await runBenchmark({ suite: ex(['tiny-vae']), cacheDir, zoo, progressBars: false });
  const logs2: string[] = [];
  await runBenchmark({ suite: ex(['tiny-vae', 'tiny-ae']), cacheDir, zoo, progressBars: false, log: (l) => logs2.push(l) });
  const first = logs2.find((l) => / tiny-ae \/ rec .*: running/.test(l)) ?? '';
  assert.match(first, /: running \(about [0-9]+ s left \(1 unit estimated from the detector's time on other models\)\)$/, logs2.join('\n'));
  // The time of each pass is also kept under its architecture (model config, not weights): tiny-bg is tiny-vae's
  // architecture with other weights (a model retrained), so its passes are estimated from tiny-vae's recorded times,
  // as its own (borrowed 0), exactly: rec's pass plus the components pass (elbo rides on it), same images.
  // (timings/<first two hex digits>/<key>.json, apart from the units)
  const timings = () => readdirSync(join(cacheDir, 'timings')).flatMap((d) => readdirSync(join(cacheDir, 'timings', d)).map((f) => join(cacheDir, 'timings', d, f)));
  const unitFiles = () => readdirSync(join(cacheDir, 'units')).flatMap((d) => readdirSync(join(cacheDir, 'units', d)));
  // Every record under units/ is a unit (it holds its key); the timings are not mixed in.
  assert.ok(unitFiles().every((f) => 'key' in JSON.parse(readFileSync(join(cacheDir, 'units', f.slice(0, 2), f), 'utf8'))));
  assert.equal(timings().length, 3); // tiny-vae rec, tiny-vae components, tiny-ae rec: written when computed
  // A cache from before these records: a rerun with everything cached writes them from the units' recorded times.
  for (const f of timings()) rmSync(f);
  await runBenchmark({ suite: ex(['tiny-vae']), cacheDir, zoo, progressBars: false });
  assert.equal(timings().length, 2);
  const own = (d: string) => r1.units.find((u) => u.model === 'tiny-vae' && u.detector === d)!.seconds;
  const events: Record<string, unknown>[] = [];
  const logs3: string[] = [];
  await runBenchmark({ suite: ex(['tiny-vae', 'tiny-bg']), cacheDir, zoo, progressBars: false, log: (l) => logs3.push(l), onEvent: (e) => events.push(e as Record<string, unknown>) });
  const start = events.find((e) => e.event === 'unit' && e.model === 'tiny-bg' && e.status === 'running')!;
  const eta = start.eta as { seconds: number; borrowed: number };
  assert.equal(eta.borrowed, 0);
  assert.ok(Math.abs(eta.seconds - (own('rec') + own('components'))) < 1e-9 * eta.seconds, `${eta.seconds} vs ${own('rec')} + ${own('components')}`);
  assert.match(logs3.find((l) => / tiny-bg \/ rec .*: running/.test(l)) ?? '', /: running \(about [0-9]+ s left\)$/, logs3.join('\n'));
});

test('a run folder still training (state.json done: false) is skipped with the reason; --unfinished takes it; a finished one is taken', () => {
  const z = join(dir, 'zoo-unfinished');
  const run = writeRun(z, 'half', TINY, 7);
  const s = parseSuite({ name: 'u', limit: 8, experiments: [{ name: 'e', models: ['half', { run: 'half', background: 'half' }], detectors: ['elbo', 'likelihood-ratio'], pairs: SYNTH_PAIRS.slice(0, 1) }] }, 'test');
  const state = (done: boolean) => writeFileSync(join(run, 'state.json'), JSON.stringify({ format: 'oodgen-state/1', step: 40, epoch: 0, done, stopReason: done ? 'max-steps' : null }));
  state(false);
  const refused = planBenchmark({ suite: s, zoo: z });
  assert.equal(refused.units.length, 0);
  assert.ok(refused.skipped.some((k) => k.what === 'e: model half' && k.why.includes(`${join(run, 'state.json')}: done is false at step 40`) && /--unfinished/.test(k.why)), JSON.stringify(refused.skipped));
  const taken = planBenchmark({ suite: s, zoo: z, unfinished: true });
  assert.deepEqual(taken.units.map((u) => u.detector).sort(), ['elbo', 'elbo', 'likelihood-ratio']);
  state(true);
  assert.equal(planBenchmark({ suite: s, zoo: z }).units.length, 3);
  writeFileSync(join(run, 'state.json'), '{ torn');
  assert.ok(planBenchmark({ suite: s, zoo: z }).skipped.some((k) => /state\.json: not readable JSON/.test(k.why)));
});

test('training status: a zoo model exported mid-run is refused unless --unfinished, and marked "not converged" in results.md and results.json', async () => {
  const z = join(dir, 'zoo-status');
  const mid = writeRun(z, 'mid', TINY, 11);
  const capped = writeRun(z, 'capped', TINY, 12);
  const conv = writeRun(z, 'conv', TINY, 13);
  const runDone = writeRun(z, 'rundone', TINY, 14);
  writeRun(z, 'bare', TINY, 15);
  const status = (d: string, o: Record<string, unknown>) => writeFileSync(join(d, 'status.json'), JSON.stringify({ weights: 'best validation ELBO so far', ...o }));
  // As scripts/zoo-export.mjs writes them: a run stopped by SIGINT mid-training, one its epoch cap ended, and a
  // converged one exported before `done` was recorded (every such file is of an early-stopped run).
  status(mid, { step: 7048, epoch: 10, bestStep: 6327, lastEpoch: { epoch: 10 }, converged: false, done: false, stopReason: 'interrupted (SIGINT)' });
  status(capped, { step: 400, epoch: 50, bestStep: 390, lastEpoch: { epoch: 50 }, converged: false, done: true, stopReason: 'epochs' });
  status(conv, { step: 12654, epoch: 18, bestStep: 9139, lastEpoch: { epoch: 18 }, converged: true, stopReason: 'early-stopping' });
  writeFileSync(join(runDone, 'state.json'), JSON.stringify({ format: 'oodgen-state/1', step: 900, epoch: 30, done: true, stopReason: 'early-stopping', bestStep: 800 }));
  const s = parseSuite({ name: 'st', limit: 8, bootstrap: 0, batchSize: 8, experiments: [{ name: 'e', models: ['mid', 'capped', { run: 'conv', name: 'C' }, 'rundone', 'bare'], detectors: ['elbo'], pairs: SYNTH_PAIRS.slice(0, 1), recon: 0 }] }, 'test');

  const refused = planBenchmark({ suite: s, zoo: z });
  assert.deepEqual(refused.units.map((u) => u.entry.name), ['capped', 'C', 'rundone', 'bare']);
  const why = refused.skipped.find((k) => k.what === 'e: model mid')?.why ?? '';
  assert.ok(why.includes(`zoo model ${mid} was exported before its training ended (${join(mid, 'status.json')}: NOT CONVERGED`) && why.includes('--unfinished'), why);

  const r = await runBenchmark({ suite: s, cacheDir: join(dir, 'cache-status'), zoo: z, unfinished: true, progressBars: false });
  const text = Object.fromEntries(r.runs.map((x) => [x.ref, x.training.text]));
  assert.deepEqual(text, {
    mid: 'NOT CONVERGED: exported while still training, at epoch 10 (step 7,048, interrupted (SIGINT)); best-validation weights of step 6,327',
    capped: 'ended by epochs at epoch 50, not by early stopping; best-validation weights of step 390',
    conv: 'converged: early stopping ended it at epoch 18; best-validation weights of step 9,139',
    rundone: 'converged: early stopping ended it at epoch 30 (step 900)',
    bare: 'training status unknown (no status.json or state.json beside the weights)',
  });
  assert.deepEqual(r.runs.find((x) => x.ref === 'conv')?.labels, ['C']);
  const md = resultsMarkdown(r, 'test');
  assert.ok(md.includes('**Not converged**: mid, capped: their weights'), md);
  const cells = md.split('\n').filter((l) => l.startsWith('|')).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  const modelCells = cells.filter((c) => c[1] === 'elbo').map((c) => c[0]);
  assert.deepEqual(modelCells, ['mid (not converged)', 'capped (not converged)', 'C', 'rundone', 'bare']);
  assert.ok(md.includes('## Models'));
  assert.deepEqual(cells.find((c) => c[0] === 'conv (as C)'), ['conv (as C)', 'converged: early stopping ended it at epoch 18; best-validation weights of step 9,139', r.runs.find((x) => x.ref === 'conv')!.hash.slice(0, 12)]);
  const json = resultsJson(r, 'test') as { models: { ref: string; training: { converged: boolean | null; done: boolean } }[] };
  assert.deepEqual(json.models.map((m) => [m.ref, m.training.done, m.training.converged]),
    [['mid', false, false], ['capped', true, false], ['conv', true, true], ['rundone', true, true], ['bare', true, null]]);
  // A torn status.json is an error naming the file, not a silent "unknown".
  writeFileSync(join(mid, 'status.json'), '{ torn');
  assert.ok(planBenchmark({ suite: s, zoo: z, unfinished: true }).skipped.some((k) => k.what === 'e: model mid' && k.why.startsWith(`${join(mid, 'status.json')}: not readable JSON`)));
});

test('elbo and components on the same model, BN mode and data: one pass, the numbers of running each alone, resumable', async () => {
  const base = liveTensors();
  const mk = (detectors: string[]) => parseSuite({
    name: 'pass', limit: 16, bootstrap: 10, batchSize: 8,
    experiments: [{ name: 'p', models: ['tiny-vae'], detectors, bn: ['eval', 'enc'], pairs: SYNTH_PAIRS, recon: 0 }],
  }, 'test');
  const logs: string[] = [];
  // Stop after the first unit (elbo / eval): its pass computed components / eval too, which a rerun finds cached.
  const ac = new AbortController();
  const cacheDir = join(dir, 'cache-pass');
  const r1 = await runBenchmark({ suite: mk(['elbo', 'components']), cacheDir, zoo, signal: ac.signal, progressBars: false, log: (l) => { logs.push(l); if (/: [0-9.]+ s for the pass; /.test(l)) ac.abort(); } });
  assert.equal(r1.counts.computed, 1);
  assert.ok(logs.some((l) => /^\[1\/4\] p: tiny-vae \/ elbo \/ bn=eval .*: running \(one pass: components, elbo\)/.test(l)), logs.join('\n'));
  const r2 = await runBenchmark({ suite: mk(['elbo', 'components']), cacheDir, zoo, progressBars: false, log: (l) => logs.push(l) });
  assert.deepEqual(r2.counts, { planned: 4, computed: 2, cached: 2 });
  assert.ok(logs.some((l) => /\[4\/4\] p: tiny-vae \/ components \/ bn=enc .*: computed in an earlier unit's pass; 0 to run/.test(l)), logs.join('\n'));
  const elbo = await runBenchmark({ suite: mk(['elbo']), cacheDir: join(dir, 'cache-elbo'), zoo, progressBars: false });
  const comps = await runBenchmark({ suite: mk(['components']), cacheDir: join(dir, 'cache-comps'), zoo, progressBars: false });
  for (const u of r2.units) {
    const alone = [...elbo.units, ...comps.units].find((x) => x.detector === u.detector && x.bn === u.bn)!;
    // The unit's key is its content: the same as scoring it alone, so caches stay interchangeable.
    assert.equal(u.key, alone.key);
    assert.deepEqual(u.rows, alone.rows, `${u.detector} bn=${u.bn}`);
    assert.deepEqual(u.series, alone.series, `${u.detector} bn=${u.bn}`);
    assert.equal(u.takenFrom, u.detector === 'elbo' ? 'components' : undefined);
    assert.equal(u.seconds > 0, u.detector === 'components');
  }
  // The pass's time counts as the rider's own: a later ELBO unit without components is estimated from it.
  const eta: string[] = [];
  const twoEx = parseSuite({
    name: 'pass2', limit: 16, bootstrap: 10, batchSize: 8,
    experiments: [{ name: 'p', models: ['tiny-vae'], detectors: ['elbo', 'components'], bn: ['eval'], pairs: SYNTH_PAIRS, recon: 0 },
      { name: 'q', models: ['tiny-vae'], detectors: ['elbo'], bn: ['enc'], pairs: SYNTH_PAIRS, recon: 0 }],
  }, 'test');
  await runBenchmark({ suite: twoEx, cacheDir: join(dir, 'cache-pass2'), zoo, progressBars: false, log: (l) => eta.push(l) });
  assert.ok(eta.some((l) => /^\[1\/3\] p: tiny-vae \/ elbo .*: [0-9.]+ s for the pass; 2 to run, about [0-9]+ s left$/.test(l)), eta.join('\n'));
  // A rider from another experiment whose pair has the same sets under another name keeps its own pair name.
  const renamed = parseSuite({
    name: 'pass3', limit: 16, bootstrap: 10, batchSize: 8,
    experiments: [{ name: 'p', models: ['tiny-vae'], detectors: ['components'], bn: ['eval'], pairs: [SYNTH_PAIRS[0]], recon: 0 },
      { name: 'q', models: ['tiny-vae'], detectors: ['elbo'], bn: ['eval'], pairs: [{ ...SYNTH_PAIRS[0]!, name: 'renamed' }], recon: 0 }],
  }, 'test');
  const r3 = await runBenchmark({ suite: renamed, cacheDir: join(dir, 'cache-pass3'), zoo, progressBars: false });
  const q = r3.units.find((x) => x.experiment === 'q')!;
  assert.equal(q.takenFrom, 'components');
  assert.deepEqual(q.rows.map((x) => x.pair), ['renamed']);
  assert.deepEqual(Object.keys(q.series[0]!.ood), ['renamed']);
  const md = resultsMarkdown(r2, 'test');
  assert.match(md, /2 units were not scored on their own but taken from the pass of another detector .*\(elbo from components; /);
  assert.equal(liveTensors(), base);
});
