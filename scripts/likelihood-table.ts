// Prints the docs/results.md "Likelihood and OoD" tables from `oodgen eval` folders:
//   node --import tsx scripts/likelihood-table.ts runs/eval/fm-vae-cat runs/eval/fm-vae-gauss ...
// One row per run x BN mode x OoD set for the IWAE score (AUROC, AUPR-IN, AUPR-OUT, FPR95 with 95% bootstrap
// intervals, mean log-likelihood in nats and bits/dim of ID and OoD), then the ELBO-component AUROCs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { markdownTable, formatNumber } from '../src/eval/report.js';
import { bitsPerDim } from '../src/scores/bpd.js';
import type { EvalRow } from '../src/ood/evaluate.js';

const ci = (r: EvalRow, k: 'AUROC' | 'AUPR-IN' | 'AUPR-OUT' | 'FPR95TPR') =>
  r.ci ? `${formatNumber(r[k])} [${formatNumber(r.ci[k][0])}, ${formatNumber(r.ci[k][1])}]` : formatNumber(r[k]);
const rows: (string | number)[][] = [];
const comp: (string | number)[][] = [];
for (const dir of process.argv.slice(2)) {
  const j = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  const m = j.model;
  const d = m.channels * m.imageSize * m.imageSize;
  const cont = m.decoder === 'gaussian';
  const label = `${m.kind === 'sintro' ? 'Soft-IntroVAE' : 'VAE'} ${m.decoder}${m.sigma2 !== undefined ? ` (sigma2 ${m.sigma2})` : ''}`;
  const k = j.settings.iwae?.k;
  for (const r of j.rows as EvalRow[]) {
    if (r.score === 'iwae') {
      rows.push([label, r.bn, r.ood, `${r.nId}/${r.nOod}`, ci(r, 'AUROC'), ci(r, 'AUPR-IN'), ci(r, 'AUPR-OUT'), ci(r, 'FPR95TPR'),
        `${formatNumber(r.meanId, 1)} / ${formatNumber(r.meanOod, 1)}`,
        // The IWAE of a Gaussian decoder is a density at raw pixel values, not a probability of the 8-bit image: its
        // bits/dim come from the 'bpd' score (discretized Gaussian), not from this column.
        cont ? 'n/a (density; see the bpd score)' : `${formatNumber(bitsPerDim(r.meanId, d), 3)} / ${formatNumber(bitsPerDim(r.meanOod, d), 3)}`]);
    }
  }
  for (const bn of j.bn as string[]) {
    for (const ood of j.ood as string[]) {
      const get = (s: string) => (j.rows as EvalRow[]).find((r) => r.score === s && r.bn === bn && r.ood === ood)?.AUROC ?? NaN;
      comp.push([label, bn, ood, get('elbo'), get('-reconstruction'), get('-prior'), get('-entropy'), get('kl')]);
    }
  }
  void k;
}
console.log(markdownTable(['model', 'BN', 'OoD', 'n ID/OoD', 'AUROC', 'AUPR-IN', 'AUPR-OUT', 'FPR95', 'mean log p(x) ID / OoD (nats)', 'bits/dim ID / OoD'], rows));
console.log();
console.log(markdownTable(['model', 'BN', 'OoD', 'AUROC -ELBO', '-reconstruction', '-prior', '-entropy', 'KL'], comp));
