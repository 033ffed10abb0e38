// The seed's second claim, end to end (Chen 2021, Sec. 3.4, Table 3.1, Figs. 3.9-3.11): even where the likelihood
// fails, ID and OoD posterior means are separated by a hyperplane, and moving an OoD code along the hyperplane's
// normal turns its reconstruction into an ID-looking image.
//
// runLatentAnalysis encodes the sets (encode.ts), fits and evaluates the linear SVM with its controls
// (separability.ts), the zero-shot one-class score (one-class.ts), draws the figures and writes results.json and
// results.md into outDir.
//
// Splits (all seeded by `seed`):
//   fit       ID train codes (+1)   vs  a random half of each OoD set (-1)
//   held out  ID test codes (+1)    vs  the other half of that OoD set (-1)
// so no image is both fitted and evaluated, and the ID held-out images come from the ID test split, which the
// generative model never saw either. The SVM weights classes as n / (2 n_c) (sklearn's 'balanced'), because the
// fitting split has twice as many ID as OoD codes when every set has the same size; without it the boundary would
// drift towards the OoD side and trade negative for positive accuracy.
// Controls: (a) the same SVM on random Gaussian projections of the raw pixels to the code dimension (the pixel-level
// separability a code must beat), on the very same images and splits; (b) ID train vs ID test codes, each split
// in random halves (fit on one half of each, evaluate on the other): the same distribution must not separate.
// One-class: a Gaussian with Ledoit-Wolf covariance fitted to the ID train codes only, squared Mahalanobis distance
// as the OoD score, AUROC on the held-out split (for control (b): fitted on the ID-train fitting half, ID-train
// held-out half as "ID" vs ID-test held-out half as "OoD").
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BN_MODE_DESCRIPTIONS } from '../scores/bn-mode.js';
import { markdownTable } from '../eval/report.js';
import { fitLatent, summary } from './latent-fit.js';
import { writeLatentFigures } from './latent-figures.js';
import { SPLIT_DESCRIPTION, type LatentAnalysisOptions, type LatentAnalysisResult, type TableRow } from './latent-types.js';

export * from './latent-types.js';
export { spearman } from './latent-fit.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Table 3.1's layout as Markdown: one row per (pair, feature space). */
export function latentTable(rows: TableRow[]): string {
  return markdownTable(
    ['ID vs OoD', 'features', 'fit (ID / OoD)', 'held out (ID / OoD)', 'positive acc.', 'negative acc.', 'AUROC(-d)', 'one-class AUROC'],
    rows.map((r) => [
      r.pair, r.features, `${r.fit.positive} / ${r.fit.negative}`, `${r.heldOut.positive} / ${r.heldOut.negative}`,
      pct(r.positiveAccuracy), pct(r.negativeAccuracy), r.auroc.toFixed(3), r.oneClassAuroc.toFixed(3),
    ]),
  );
}

/** Runs the whole analysis and writes results.json, results.md and the figures into outDir. */
export async function runLatentAnalysis(o: LatentAnalysisOptions): Promise<LatentAnalysisResult> {
  const fit = await fitLatent(o);
  const maps = await writeLatentFigures(fit, o);
  const { t0, timings, model, bn, seed, batchSize, C, idName, setsInfo, table, pairs, ctl, ctlOc } = fit;
  timings.total = (Date.now() - t0) / 1000;

  const cfg = model.config;
  const result: LatentAnalysisResult = {
    version: 1,
    id: idName,
    model: { kind: cfg.kind, decoder: cfg.decoder, zDim: cfg.zDim, channels: cfg.channels, imageSize: cfg.imageSize, width: cfg.width },
    bn: { mode: bn, description: BN_MODE_DESCRIPTIONS[bn], batchSize },
    seed,
    limit: o.limit ?? null,
    sets: setsInfo,
    split: SPLIT_DESCRIPTION,
    table,
    pairs,
    control: { idVsId: summary(ctl, C), oneClass: ctlOc.metrics },
    maps,
    meta: o.meta ?? {},
    timings,
  };
  await writeFile(join(o.outDir, 'results.json'), JSON.stringify(result, null, 2) + '\n');
  await writeFile(join(o.outDir, 'results.md'), latentMarkdown(result));
  return result;
}

/** results.md: provenance, Table 3.1, the likelihood baseline, the figures. Image links are relative to outDir. */
export function latentMarkdown(r: LatentAnalysisResult, imgPrefix = ''): string {
  const lines: string[] = [];
  const meta = r.meta;
  lines.push(`## Latent ID/OoD semantics: ${r.id} (${r.model.kind}, ${r.model.decoder} decoder, z = ${r.model.zDim})`, '');
  if (typeof meta.command === 'string') lines.push('```', meta.command, '```', '');
  if (typeof meta.checkpoint === 'string') lines.push(`Checkpoint: \`${meta.checkpoint}\`. `);
  lines.push(`BatchNorm: ${r.bn.mode} (${r.bn.description}), batches of ${r.bn.batchSize}. Seed ${r.seed}. ` +
    (r.limit !== null ? `At most ${r.limit} images per set (evenly spaced).` : 'All images of every set.'), '');
  lines.push(latentTable(r.table), '');
  lines.push('Positive accuracy: held-out ID codes on the ID side (d >= 0); negative accuracy: held-out OoD codes on the OoD side. ' +
    'AUROC(-d): the signed distance as an OoD score (OoD positive). One-class AUROC: squared Mahalanobis distance to the ID train codes (zero-shot, no OoD data).', '');
  lines.push(`Split: ${r.split}`, '');
  const like = markdownTable(['ID vs OoD', 'likelihood score', 'AUROC (likelihood)', 'AUROC(-d)', 'Spearman(d, score)', 'SVM passes / converged'],
    r.pairs.map((p) => [`${r.id} vs ${p.ood}`, p.likelihood.kind === 'elbo' ? '-ELBO' : '-log p(x|mu)', p.likelihood.metrics.AUROC.toFixed(3), p.latent.metrics.AUROC.toFixed(3),
      p.likelihood.spearmanWithDistance.toFixed(2), `${p.latent.svm.iterations} / ${p.latent.svm.converged ? 'yes' : 'no'}`]));
  lines.push('The likelihood on the same held-out images, for comparison:', '', like, '');
  for (const p of r.pairs) {
    const fig = (key: string, alt: string) => (p.figures[key] ? `![${alt}](${imgPrefix}${p.figures[key]})` : '');
    lines.push(`### ${r.id} vs ${p.ood}`, '');
    lines.push(fig('dist', `signed distance histogram, ${r.id} vs ${p.ood}`), '');
    lines.push(`Signed distance d of held-out codes (Fig. 3.9a,b).`, '');
    lines.push(fig('interp', `interpolation strips, ${p.ood} towards ${r.id}`), '');
    lines.push(`Moving OoD codes along the normal (Fig. 3.10): ${p.strips.note}.`, '');
    lines.push(fig('hardest', `hardest samples, ${r.id} vs ${p.ood}`), '');
    lines.push(`Hardest samples (Fig. 3.11a): row 1 the ${p.hardest.id.length} ID test images with the smallest d, row 2 their reconstructions; ` +
      `row 3 the ${p.hardest.ood.length} held-out OoD images with the largest d, row 4 their reconstructions.`, '');
    lines.push(fig('distVsNll', `distance vs likelihood, ${r.id} vs ${p.ood}`), '');
    lines.push('d against the likelihood score (Fig. 3.11b).', '');
  }
  for (const m of r.maps) {
    lines.push(`![${m.method} map of latent codes](${imgPrefix}${m.file})`, '');
    lines.push(`${m.method === 'tsne' ? 't-SNE' : 'UMAP'} of ${m.points} codes coloured by set (Fig. 3.9c); 10-NN ID/OoD purity ${m.knnPurity10.toFixed(3)} (ID train and test counted as one set).`, '');
  }
  return lines.join('\n') + '\n';
}
