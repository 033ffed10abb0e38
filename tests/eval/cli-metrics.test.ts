import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { formatMetricsResult, loadScores, registerMetricsCommand, runMetrics } from '../../src/cli/metrics.js';
import { oodMetrics } from '../../src/eval/metrics.js';
import { OodgenError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('cli-metrics');
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const idScores = [0.1, 0.4, 0.4, 0.8, 0.2, 0.3];
const oodScores = [0.4, 0.8, 0.9, 1.2];
const idPath = file('id.json', JSON.stringify({ scores: idScores, model: 'glow', split: 'test' }));
const oodPath = file('ood.json', JSON.stringify(oodScores)); // bare array form

test('runMetrics reads both file forms and matches oodMetrics', async () => {
  const r = await runMetrics({ id: idPath, ood: oodPath });
  assert.deepEqual(r, { ...oodMetrics(idScores, oodScores), idFile: idPath, oodFile: oodPath });
  assert.equal(r.bootstrap, undefined);
});

test('--json prints one parseable line with the metric keys', async () => {
  const line = formatMetricsResult(await runMetrics({ id: idPath, ood: oodPath }), true);
  assert.ok(!line.includes('\n'));
  const o = JSON.parse(line);
  for (const k of ['AUROC', 'AUPR-IN', 'AUPR-OUT', 'FPR95TPR', 'nId', 'nOod']) assert.equal(typeof o[k], 'number', k);
  assert.equal(o.nId, 6);
  assert.equal(o.nOod, 4);
});

test('bootstrap adds seeded intervals; the table shows value [CI]', async () => {
  const a = await runMetrics({ id: idPath, ood: oodPath, bootstrap: 200, seed: 4 });
  const b = await runMetrics({ id: idPath, ood: oodPath, bootstrap: 200, seed: 4 });
  assert.deepEqual(a, b);
  assert.equal(a.bootstrap?.reps, 200);
  assert.ok(a.bootstrap!.AUROC.low <= a.AUROC && a.AUROC <= a.bootstrap!.AUROC.high);
  const table = formatMetricsResult(a, false);
  assert.match(table, /\| metric +\| value \[95% CI\] +\| +\|/);
  assert.match(table, /\| AUROC +\| \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] \| higher is better \|/);
  assert.match(table, /200 replicates, seed 4/);
});

test('plain table without bootstrap', async () => {
  const table = formatMetricsResult(await runMetrics({ id: idPath, ood: oodPath }), false);
  const auroc = oodMetrics(idScores, oodScores).AUROC.toFixed(3);
  assert.match(table, new RegExp(`\\| AUROC +\\| +${auroc.replace('.', '\\.')} \\| higher is better \\|`));
  assert.match(table, /\| FPR95TPR .*lower is better/);
  assert.match(table, /ID: 6 scores .*OoD: 4 scores/);
});

async function rejectsWith(path: string, re: RegExp) {
  await assert.rejects(loadScores(path), (e: unknown) => {
    assert.ok(e instanceof OodgenError, `not an OodgenError: ${e}`);
    assert.ok(e.message.startsWith(path), `message does not name the file: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

test('bad score files: the error names the file and the problem', async () => {
  await rejectsWith(join(dir, 'missing.json'), /cannot read score file \(ENOENT\)/);
  await rejectsWith(file('notjson.json', '{"scores": [1, 2,'), /not valid JSON/);
  await rejectsWith(file('noscores.json', '{"score": [1]}'), /no scores array.*keys \[score\]/);
  await rejectsWith(file('string.json', '"hello"'), /no scores array.*found a string/);
  await rejectsWith(file('scoresnotarray.json', '{"scores": 3}'), /no scores array/);
  await rejectsWith(file('empty.json', '{"scores": []}'), /empty/);
  await rejectsWith(file('str.json', '[1, 2, "3"]'), /non-numeric entry at index 2: "3"$/);
  await rejectsWith(file('null.json', '{"scores": [1, null]}'), /non-numeric entry at index 1: null \(JSON\.stringify writes NaN/);
  // runMetrics surfaces the same errors.
  await assert.rejects(runMetrics({ id: idPath, ood: join(dir, 'null.json') }), /null\.json: non-numeric entry at index 1/);
});

test('registerMetricsCommand wires options through commander', async () => {
  const out: string[] = [];
  const program = new Command().exitOverride();
  registerMetricsCommand(program, { write: (s) => out.push(s) });
  await program.parseAsync(['metrics', '--id', idPath, '--ood', oodPath, '--json', '--bootstrap', '50', '--seed', '9'], { from: 'user' });
  assert.equal(out.length, 1);
  const o = JSON.parse(out[0]!);
  assert.equal(o.AUROC, oodMetrics(idScores, oodScores).AUROC);
  assert.deepEqual([o.bootstrap.reps, o.bootstrap.seed, o.bootstrap.alpha], [50, 9, 0.05]);

  const bad = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerMetricsCommand(bad, { write: () => {} });
  await assert.rejects(
    bad.parseAsync(['metrics', '--id', idPath, '--ood', oodPath, '--bootstrap', '1.5'], { from: 'user' }),
    /--bootstrap must be an integer >= 1/,
  );
});
