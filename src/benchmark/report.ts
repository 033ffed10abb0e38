// Writers of a benchmark's output folder: results.json (every row with its interval, the units, what was skipped
// and why, the published figures), results.md (one table per experiment, published AUROCs beside ours) and
// report.html (html.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { formatNumber, markdownTable } from '../eval/report.js';
import { detectorSpec } from '../scores/registry.js';
import { PUBLISHED, SOURCES, publishedFor } from './published.js';
import { benchFiles, type BenchRow, type BenchmarkResult } from './run.js';
import { reportHtml } from './html.js';
import type { ModelGrids } from './grids.js';
import { claimsOf } from './claims.js';
import { aliasesOf, modelLabel, notConvergedRefs, unconvergedModels } from './models.js';
import type { LatentUnitResult, Proportion } from './latent.js';

const GRANULARITY = { sample: 'per-sample', batch: 'batch' } as const;

/** The Models section: every model the suite used, how far its training got, and its content hash. */
export function modelsMarkdown(r: Pick<BenchmarkResult, 'runs'>): string[] {
  if (r.runs.length === 0) return [];
  return ['## Models', '',
    'Every model the units used (main, background, ensemble members), with the training status its folder records (a zoo folder\'s status.json, a run folder\'s state.json) and the first 12 hex digits of its content hash (weights and model config; the cache key).', '',
    markdownTable(['model', 'training', 'hash'], r.runs.map((x) => [x.ref + (aliasesOf(x).length ? ` (as ${aliasesOf(x).join(', ')})` : ''), x.training.text, x.hash.slice(0, 12)])), ''];
}

/** Published AUROCs for a row's pair and detector, e.g. "0.99 [lpath]". */
export function publishedCell(r: Pick<BenchRow, 'pair' | 'score' | 'bn'>): string {
  return publishedFor(r.pair, r.score, r.bn).map((p) => `${p.auroc.toFixed(2)} [${p.source}]`).join('; ');
}

export function resultsJson(r: BenchmarkResult, command: string): Record<string, unknown> {
  const s = r.suite;
  const pairs = new Set(r.units.flatMap((u) => u.pairs.map((p) => p.name)));
  return {
    format: 'oodgen-benchmark/1', command, createdAt: new Date().toISOString(), complete: !r.interrupted,
    suite: { name: s.name, description: s.description, limit: s.limit, fitLimit: s.fitLimit, bootstrap: s.bootstrap, batchSize: s.batchSize, seed: s.seed, notes: s.notes },
    counts: r.counts,
    rows: r.units.flatMap((u) => u.rows),
    latent: r.latent,
    claims: claimsOf(r),
    units: r.units.map(({ rows: _rows, series: _series, ...u }) => u),
    models: r.runs,
    skipped: r.skipped,
    published: PUBLISHED.filter((p) => pairs.has(p.pair)),
    sources: SOURCES,
  };
}

const pctCi = (p: Proportion) => `${(100 * p.p).toFixed(1)}% [${(100 * p.ci[0]).toFixed(1)}, ${(100 * p.ci[1]).toFixed(1)}]`;

/** One Markdown table of a latent experiment's units (Table 3.1's columns plus the move along w). */
export function latentMarkdownTable(units: LatentUnitResult[], unconverged: Set<string> = new Set()): string {
  return markdownTable(
    ['model', 'BN', 'pair', 'fit ID / OoD', 'held-out positive acc.', 'held-out negative acc.', 'AUROC(-d)', 'pixels pos. / neg.', 'ID-vs-ID control pos. / neg.', 'likelihood AUROC', 'moved to ID side', 'unmoved', 'pixel judge: moved / unmoved'],
    units.flatMap((u) => u.pairs.map((p) => [
      modelLabel(u.model, unconverged), u.bn, p.pair, `${p.fit.positive} / ${p.fit.negative}`, pctCi(p.positive), pctCi(p.negative), p.auroc.toFixed(3),
      `${(100 * p.pixels.positive.p).toFixed(1)}% / ${(100 * p.pixels.negative.p).toFixed(1)}%`,
      `${(100 * u.control.positive.p).toFixed(1)}% / ${(100 * u.control.negative.p).toFixed(1)}%`,
      p.likelihoodAuroc.toFixed(3), `${pctCi(p.move.moved)} of ${p.move.moved.n}`, pctCi(p.move.unmoved),
      p.move.pixels ? `${(100 * p.move.pixels.moved.p).toFixed(1)}% / ${(100 * p.move.pixels.unmoved.p).toFixed(1)}%` : '',
    ])),
  );
}

export function resultsMarkdown(r: BenchmarkResult, command: string): string {
  const s = r.suite;
  const ci = (row: BenchRow, k: 'AUROC' | 'AUPR-IN' | 'AUPR-OUT' | 'FPR95TPR') =>
    row.ci ? `${formatNumber(row[k])} [${formatNumber(row.ci[k][0])}, ${formatNumber(row.ci[k][1])}]` : formatNumber(row[k]);
  const out: string[] = [
    `# Benchmark: ${s.name}`, '',
    s.description, '',
    `Command: \`${command}\`${r.interrupted ? ' (**interrupted**: rerun it to finish; finished units are cached)' : ''}.`,
    `Units: ${r.counts.planned} planned, ${r.counts.computed} computed in this run, ${r.counts.cached} from the cache.`,
    `Per set at most ${s.limit} images (evenly spaced; experiments and --limit may lower it), detectors fitted on at most ${s.fitLimit} ID validation images (never OoD data), batches of ${s.batchSize}, seed ${s.seed}` +
      (s.bootstrap > 0 ? `, 95% percentile-bootstrap intervals (${s.bootstrap} replicates).` : ', no bootstrap.'),
    'Higher score = more OoD; OoD is the positive class. "per-sample" detectors score each image alone; "batch" detectors score a whole batch of one set.',
    '',
  ];
  const unconverged = unconvergedModels(r);
  const notConverged = notConvergedRefs(r);
  if (notConverged.length) {
    const many = notConverged.length > 1;
    out.push(`**Not converged**: ${notConverged.join(', ')}: ${many ? 'their' : 'its'} weights are not those of a run that early stopping ended (Models below); the rows of a main model that is not converged say so.`, '');
  }
  const all = claimsOf(r);
  // A suite built for something else (a detector table) that happens to run some claims' units does not list the
  // claims it never tried (every missing unit "not in this suite"); one it tried and could not run (a zoo model
  // absent, a unit skipped) is listed with the reason. The seed and claims suites list all eight.
  const untried = (c: (typeof all)[number]) => c.verdict === 'not run' && c.missing.every((m) => m.endsWith('(not in this suite)'));
  const claims = s.name === 'seed' || s.name === 'claims' ? all : all.filter((c) => !untried(c));
  if (claims.length) {
    out.push('## Claims (Chen 2021, ch. 3)', '');
    out.push(markdownTable(['claim', '', 'verdict', 'evidence'], claims.map((c) => [c.id, `${c.claim} (${c.source})`, c.verdict === 'reproduced' ? '**reproduced**' : c.label, c.evidence])), '');
    if (claims.length < all.length) {
      out.push(`${all.filter((c) => !claims.includes(c)).map((c) => c.id).join(', ')}: not run by this suite (the \`seed\` suite and bench/suites/claims.json run every claim).`, '');
    }
    out.push('Rules (src/benchmark/claims.ts; an interval is the 95% bootstrap interval of the AUROC, or the Wilson interval of a proportion):', '');
    out.push(...claims.map((c) => `- ${c.id}: ${c.rule}.`), '');
  }
  for (const ex of s.experiments) {
    out.push(`## ${ex.name}`, '');
    if (ex.description) out.push(ex.description, '');
    if (ex.kind === 'latent') {
      const lu = r.latent.filter((u) => u.experiment === ex.name);
      if (lu.length === 0) { out.push('No results (see Skipped).', ''); continue; }
      out.push(latentMarkdownTable(lu, unconverged), '');
      out.push('Linear SVM on posterior means (src/analysis): fitted on the model\'s training images (ID) and a seeded half of each OoD set, evaluated on the ID test set and the other half; ' +
        'accuracies with 95% Wilson intervals. "moved to ID side": held-out OoD codes on the OoD side, moved along w to the median ID depth, decoded and re-encoded, on the ID side of the same SVM; "unmoved": the same round trip without the move; "pixel judge": the pixel control\'s SVM on the same decoded images (src/benchmark/latent.ts).', '');
      continue;
    }
    const rows = r.units.filter((u) => u.experiment === ex.name).flatMap((u) => u.rows);
    if (rows.length === 0) { out.push('No results (see Skipped).', ''); continue; }
    out.push(markdownTable(
      ['model', 'score', 'kind', 'BN', 'pair', 'n ID / OoD', 'AUROC', 'AUPR-IN', 'AUPR-OUT', 'FPR95', 'published AUROC'],
      rows.map((x) => [modelLabel(x.model, unconverged), x.score, GRANULARITY[x.granularity], x.bn, x.pair, `${x.nId} / ${x.nOod}`, ci(x, 'AUROC'), ci(x, 'AUPR-IN'), ci(x, 'AUPR-OUT'), ci(x, 'FPR95TPR'), publishedCell(x)]),
    ), '');
  }
  // Units cached before `images` was recorded: ID once plus each pair's OoD set, from the rows (a detector can give
  // several rows per pair; batch rows count batches).
  const imagesOf = (u: BenchmarkResult['units'][number]): number => u.images ??
    (u.rows.length ? (u.rows[0]!.nId + [...new Map(u.rows.map((x) => [x.pair, x.nOod])).values()].reduce((a, n) => a + n, 0)) * (u.granularity === 'batch' ? s.batchSize : 1) : 0);
  const timed = r.units.filter((u) => u.seconds > 0 && imagesOf(u) > 0).map((u) => ({ ...u, images: imagesOf(u) }));
  out.push(...modelsMarkdown(r));
  if (timed.length) {
    out.push('## Cost', '');
    out.push('Wall time of each unit computed (in this run or the run that cached it): scoring, plus fitting when the unit fitted its detector; one process, the suite\'s thread count, on whatever else the machine was running then (its 1-minute load average is beside each figure).', '');
    out.push(markdownTable(['experiment', 'model', 'score', 'BN', 'images', 'seconds', 'images/s', 'load'],
      timed.map((u) => [u.experiment, u.model, u.detector, u.bn, String(u.images), u.seconds.toFixed(1), formatNumber(u.images! / u.seconds), u.load === undefined ? '' : u.load.toFixed(1)])), '');
    const taken = r.units.filter((u) => u.takenFrom);
    if (taken.length) {
      const how = [...new Set(taken.map((u) => `${u.detector} from ${u.takenFrom}`))].join(', ');
      const many = taken.length > 1;
      out.push(`${taken.length} unit${many ? 's were' : ' was'} not scored on ${many ? 'their' : 'its'} own but taken from the pass of another detector on the same model, BN mode and data (${how}; the same numbers as scoring ${many ? 'them' : 'it'} alone): the other detector's seconds cover both.`, '');
    }
  }
  const pairs = new Set(r.units.flatMap((u) => u.pairs.map((p) => p.name)));
  const pub = PUBLISHED.filter((p) => pairs.has(p.pair));
  if (pub.length) {
    out.push('## Published figures on these pairs', '');
    out.push(markdownTable(['pair', 'method', 'AUROC', 'source'], pub.map((p) => [p.pair, p.method, p.auroc.toFixed(2), p.source])), '');
  }
  out.push('Sources:', '', ...SOURCES.map((x) => `- [${x.key}] ${x.citation}`), '');
  const dets = [...new Set(r.units.map((u) => u.detector))];
  if (dets.length) out.push('Detectors:', '', ...dets.map((d) => `- ${d} (${GRANULARITY[detectorSpec(d).granularity]}): ${detectorSpec(d).reference}`), '');
  if (r.skipped.length) out.push('## Skipped', '', ...r.skipped.map((x) => `- ${x.what}: ${x.why}`), '');
  if (s.notes.length) out.push('## Notes', '', ...s.notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}

/** Writes results.json, results.md and report.html into `out`; returns their paths. */
export async function writeBenchmarkReport(r: BenchmarkResult, out: string, o: { command: string; grids?: ModelGrids[] }): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const f = benchFiles(out);
  await writeFile(f.json, JSON.stringify(resultsJson(r, o.command), null, 1) + '\n');
  await writeFile(f.md, resultsMarkdown(r, o.command));
  await writeFile(f.html, reportHtml(r, { command: o.command, grids: o.grids ?? [] }));
  return [f.json, f.md, f.html];
}
