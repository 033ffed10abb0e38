// The two terms of the detectors that combine two numbers per image, measured apart on one ID / OoD pair, for the
// readings in docs/results.md (why a combination helps or not):
//   node --import tsx scripts/score-parts.ts ratio ID_RUN BG_RUN ID_SET OOD_SET
//     likelihood ratio = log p_ID(x) - log p_bg(x): AUROC of each model's likelihood alone (the ELBO of a VAE, the
//     exact log-likelihood of a flow), of the difference, and the Pearson correlation of the two per image.
//   node --import tsx scripts/score-parts.ts waic RUN0,RUN1,... ID_SET OOD_SET
//     WAIC = mean - variance of log p over the members: AUROC of each term alone and of WAIC, and the mean of each.
// Sets are read at the first model's image size and channels, at most 1,000 images each, evenly spaced (the
// benchmark's sampling, seed 0); AUROCs with OoD as the positive class and higher score = more OoD. One JSON line.
import { loadDataset } from '../src/data/registry.js';
import { evaluate, type EvalSet } from '../src/ood/evaluate.js';
import { loadRun } from '../src/train/run.js';
import { oodMetrics } from '../src/eval/metrics.js';
import { detectorsFor } from '../src/scores/registry.js';
import type { GenerativeModel } from '../src/models/types.js';

const auroc = (id: Float32Array, ood: Float32Array): number => Number(oodMetrics(id, ood).AUROC.toFixed(3));
const neg = (x: Float32Array): Float32Array => x.map((v) => -v);
const mean = (x: Float32Array): number => Number((x.reduce((s, v) => s + v, 0) / x.length).toFixed(1));
function pearson(x: Float32Array, y: Float32Array): number {
  const n = x.length, mx = x.reduce((s, v) => s + v, 0) / n, my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) { sxy += (x[i]! - mx) * (y[i]! - my); sxx += (x[i]! - mx) ** 2; syy += (y[i]! - my) ** 2; }
  return Number((sxy / Math.sqrt(sxx * syy)).toFixed(3));
}
const join = (a: Float32Array, b: Float32Array): Float32Array => { const r = new Float32Array(a.length + b.length); r.set(a); r.set(b, a.length); return r; };

async function sets(model: GenerativeModel, idSpec: string, oodSpec: string): Promise<[EvalSet, EvalSet]> {
  const { imageSize, channels } = model.config;
  const one = async (spec: string): Promise<EvalSet> => {
    const r = await loadDataset(spec, { imageSize, channels: channels as 1 | 3, limit: 1000, seed: 0 });
    return { ...r.set, name: spec };
  };
  return [await one(idSpec), await one(oodSpec)];
}

/** Per-image log-likelihood (ID set, OoD set) of one model: a flow's exact one, else the ELBO. */
async function logLik(dir: string, idSpec: string, oodSpec: string): Promise<{ what: string; id: Float32Array; ood: Float32Array }> {
  const model = loadRun(dir, { device: 'cpu' }).model;
  try {
    const exact = detectorsFor(model).includes('exact-nll');
    const [det, col] = exact ? ['exact-nll', 'loglik'] : ['elbo', 'elbo'];
    const [id, ood] = await sets(model, idSpec, oodSpec);
    const r = await evaluate({ model, detectors: [det], id, ood: [ood], bootstrap: 0, progressBars: false });
    const [a, b] = r.raw[det]!.eval!;
    return { what: exact ? 'exact log-likelihood' : 'ELBO', id: a!.columns[col]!, ood: b!.columns[col]! };
  } finally {
    model.dispose();
  }
}

async function main(): Promise<void> {
  const [kind, ...rest] = process.argv.slice(2);
  if (kind === 'ratio' && rest.length === 4) {
    const [fg, bg, idSpec, oodSpec] = rest as [string, string, string, string];
    const a = await logLik(fg, idSpec, oodSpec), b = await logLik(bg, idSpec, oodSpec);
    console.log(JSON.stringify({
      kind, pair: `${idSpec} vs ${oodSpec}`, foreground: fg, background: bg, term: a.what,
      aurocForeground: auroc(neg(a.id), neg(a.ood)), aurocBackground: auroc(neg(b.id), neg(b.ood)),
      aurocRatio: auroc(neg(a.id.map((v, i) => v - b.id[i]!)), neg(a.ood.map((v, i) => v - b.ood[i]!))),
      pearson: pearson(join(a.id, a.ood), join(b.id, b.ood)),
      meanForeground: [mean(a.id), mean(a.ood)], meanBackground: [mean(b.id), mean(b.ood)],
    }));
    return;
  }
  if (kind === 'waic' && rest.length === 3) {
    const [runs, idSpec, oodSpec] = rest as [string, string, string];
    const models = runs.split(',').map((d) => loadRun(d, { device: 'cpu' }).model);
    try {
      const [id, ood] = await sets(models[0]!, idSpec, oodSpec);
      const r = await evaluate({ model: models, detectors: ['waic'], id, ood: [ood], detectorOptions: { k: 50 }, bootstrap: 0, progressBars: false });
      const [a, b] = r.raw.waic!.eval!;
      console.log(JSON.stringify({
        kind, pair: `${idSpec} vs ${oodSpec}`, members: models.length,
        aurocWaic: auroc(a!.score, b!.score), aurocMean: auroc(neg(a!.columns.mean!), neg(b!.columns.mean!)),
        aurocVariance: auroc(a!.columns.variance!, b!.columns.variance!),
        meanOfMean: [mean(a!.columns.mean!), mean(b!.columns.mean!)], meanOfVariance: [mean(a!.columns.variance!), mean(b!.columns.variance!)],
      }));
    } finally {
      models.forEach((m) => m.dispose());
    }
    return;
  }
  console.error('usage: node --import tsx scripts/score-parts.ts ratio ID_RUN BG_RUN ID_SET OOD_SET\n       node --import tsx scripts/score-parts.ts waic RUN0,RUN1,... ID_SET OOD_SET');
  process.exit(2);
}

main().catch((e: unknown) => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
