// Step 4 of the latent-semantics analysis: the figures of Chen 2021 Figs. 3.9-3.11 for each OoD set (hyperplane
// distance histogram, interpolation strips along the SVM normal, hardest samples, distance vs likelihood), the
// per-pair distance files, and 2-D maps (t-SNE / UMAP) of all codes. Fills each pair's strips, hardest and figures.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { histogramChart, scatterChart } from '../eval/charts.js';
import { writeImageGrid } from '../eval/grid.js';
import { decodeCodes, gatherImages, reconstructRows } from './encode.js';
import { embedSets, knnPurity } from './embed.js';
import { crossingT, hardestSamples, pathAlongNormal } from './interpolate.js';
import { mulberry32, shuffle } from './matrix.js';
import type { LatentFit } from './latent-fit.js';
import type { LatentAnalysisOptions, LatentAnalysisResult, PairResult } from './latent-types.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Writes the figures into o.outDir; returns the 2-D maps drawn. */
export async function writeLatentFigures(fit: LatentFit, o: LatentAnalysisOptions): Promise<LatentAnalysisResult['maps']> {
  const { timings, model, bn, seed, k, embed, batchSize, stripRows, idName, idTest, oods, zTrain, zTest, zOod, d, nPix, pairs, held, progress } = fit;
  const [ch, hh, ww] = fit.shape;
  const lap = (name: string, since: number) => { timings[name] = (Date.now() - since) / 1000; };
  let t: number;
  // 4. Figures.
  t = Date.now();
  const scaleOf = Math.max(1, Math.round(56 / model.config.imageSize));
  for (let s = 0; s < oods.length; s++) {
    const p = pairs[s]!, h = held[s]!, oodSet = oods[s]!.set, slug = p.slug;
    progress(`figures ${p.ood}`);
    const idLabel = `${idName} test (ID)`, oodLabel = `${p.ood} held out (OoD)`;
    const f = (key: string, name: string) => { p.figures[key] = name; return join(o.outDir, name); };

    await histogramChart(f('dist', `dist-hist-${slug}.png`), [{ name: idLabel, values: h.dId }, { name: oodLabel, values: h.dOod }], {
      title: `Signed distance to the ID/OoD hyperplane: ${idName} vs ${p.ood}`,
      subtitle: `linear SVM on latent codes (d = ${d}); held-out positive acc. ${pct(p.latent.positiveAccuracy)}, negative acc. ${pct(p.latent.negativeAccuracy)}, AUROC(-d) ${p.latent.metrics.AUROC.toFixed(3)}`,
      xLabel: 'd = (w^T mu(x) + b) / |w|   (> 0: ID side)',
    });

    // Interpolation strips: OoD held-out codes classified OoD, moved along the unit normal through the boundary.
    const normal = h.report.svm.normal();
    const cand = Array.from(h.heldIdx.keys()).filter((i) => h.dOod[i]! < 0);
    const pool = cand.length > 0 ? cand : hardestSamples(h.dOod.map((v) => -v), Math.min(stripRows, h.dOod.length), 'ood').map((x) => x.index);
    const pick = Int32Array.from(pool);
    shuffle(pick, mulberry32(seed + 31 * (s + 1)));
    const rowsPicked = Array.from(pick.slice(0, Math.min(stripRows, pick.length))).sort((a, b) => h.dOod[a]! - h.dOod[b]!);
    // t: 0, half way, the crossing, then beyond it by R/4, R/2, R and 2R, with R the RMS norm of the ID test codes
    // (the radius of the ID code cloud). The hyperplane sits close to both sets - typical |d| is a small fraction of R -
    // so a strip that stopped just past the boundary would show almost no change; the far columns show what the
    // normal direction encodes.
    let sq = 0;
    for (const v of zTest.mu) sq += v * v;
    const R = Math.sqrt(sq / zTest.n);
    const beyond = [0.25, 0.5, 1, 2];
    const cols = 3 + beyond.length;
    const codesAll: number[] = [];
    const stripMeta: PairResult['strips']['rows'] = [];
    for (const r of rowsPicked) {
      const gi = h.heldIdx[r]!;
      const z = zOod[s]!.mu.subarray(gi * d, (gi + 1) * d);
      const tc = crossingT(z, h.report.svm);
      const ts = [0, tc / 2, tc, ...beyond.map((f) => tc + f * R)];
      codesAll.push(...pathAlongNormal(z, normal, ts));
      stripMeta.push({ index: gi, distance: h.dOod[r]!, crossingT: tc, ts });
    }
    const per = nPix;
    const decoded = decodeCodes(model, codesAll, { bn, batchSize: Math.max(1, codesAll.length / d) });
    const inputs = gatherImages(oodSet, stripMeta.map((m) => m.index));
    const grid = new Float32Array(stripMeta.length * (cols + 1) * per);
    stripMeta.forEach((_, r) => {
      grid.set(inputs.subarray(r * per, (r + 1) * per), r * (cols + 1) * per);
      grid.set(decoded.subarray(r * cols * per, (r + 1) * cols * per), (r * (cols + 1) + 1) * per);
    });
    await writeImageGrid(f('interp', `interp-${slug}.png`), grid, [stripMeta.length * (cols + 1), ch, hh, ww], { nrow: cols + 1, scale: scaleOf, padding: 2 });
    p.strips = {
      rows: stripMeta, crossingColumn: 3, radius: R,
      note: `rows: OoD held-out images classified OoD (seeded pick, sorted by d); column 0: the input; columns 1-${cols}: decoder means of mu(x) + t n, ` +
        `n = w/|w| (towards ID), t = 0, t_c/2, t_c (on the hyperplane, column 3), then t_c + R/4, R/2, R, 2R past it; ` +
        `t_c = -d(x) is the distance to the boundary, R = ${R.toFixed(2)} the RMS norm of the ID test codes`,
    };

    // Hardest samples: ID test codes deepest on (or closest to) the OoD side, OoD held-out codes deepest on the ID side.
    const hid = hardestSamples(h.dId, Math.min(k, h.dId.length), 'id');
    const hood = hardestSamples(h.dOod, Math.min(k, h.dOod.length), 'ood');
    p.hardest = {
      id: hid.map((x) => ({ index: x.index, distance: x.distance })), ood: hood.map((x) => ({ index: h.heldIdx[x.index]!, distance: x.distance })),
      note: 'index = row of the set as analysed (after the limit); id: ID test images with the smallest d, ood: held-out OoD images with the largest d',
    };
    const idRows = hid.map((x) => x.index), oodRows = p.hardest.ood.map((x) => x.index);
    const blocks = [
      gatherImages(idTest, idRows), reconstructRows(model, idTest, idRows, { bn, batchSize }),
      gatherImages(oodSet, oodRows), reconstructRows(model, oodSet, oodRows, { bn, batchSize }),
    ];
    const kk = Math.max(hid.length, hood.length);
    const hard = new Float32Array(4 * kk * per).fill(1);
    blocks.forEach((b, r) => hard.set(b, r * kk * per));
    await writeImageGrid(f('hardest', `hardest-${slug}.png`), hard, [4 * kk, ch, hh, ww], { nrow: kk, scale: scaleOf, padding: 2 });

    const nllLabel = p.likelihood.kind === 'elbo' ? '-ELBO(x), nats (upper bound on -log p(x))' : '-log p(x | mu(x)), nats (reconstruction; the model has no q(z|x))';
    const nllOodAll = zOod[s]!.nll!;
    await scatterChart(f('distVsNll', `dist-vs-nll-${slug}.png`), [
      { name: idLabel, x: h.dId, y: zTest.nll! },
      { name: oodLabel, x: h.dOod, y: Float32Array.from(h.heldIdx, (i) => nllOodAll[i]!) },
    ], {
      title: `Hyperplane distance vs likelihood: ${idName} vs ${p.ood}`,
      subtitle: `AUROC of -d ${p.latent.metrics.AUROC.toFixed(3)}; AUROC of ${p.likelihood.kind === 'elbo' ? '-ELBO' : '-log p(x|mu)'} ${p.likelihood.metrics.AUROC.toFixed(3)}; Spearman(d, nll) ${p.likelihood.spearmanWithDistance.toFixed(2)}`,
      xLabel: 'd = (w^T mu(x) + b) / |w|   (> 0: ID side)', yLabel: nllLabel, seed,
    });

    await writeFile(join(o.outDir, `distances-${slug}.json`), JSON.stringify({
      note: 'held-out signed distances d (positive = ID side) and the likelihood score of the same images; `scores` files for `oodgen metrics` use -d',
      idTest: Array.from(h.dId), oodHeldOut: Array.from(h.dOod), oodHeldOutIndex: Array.from(h.heldIdx),
      nllIdTest: Array.from(zTest.nll!), nllOodHeldOut: Array.from(h.heldIdx, (i) => nllOodAll[i]!), nllKind: p.likelihood.kind,
    }) + '\n');
  }

  // 2-D maps of all codes, coloured by set.
  const maps: LatentAnalysisResult['maps'] = [];
  const methods: ('tsne' | 'umap')[] = embed === 'both' ? ['tsne', 'umap'] : embed === 'none' ? [] : [embed];
  const embedInput = [
    { label: `${idName} train`, X: zTrain.mu }, { label: `${idName} test`, X: zTest.mu },
    ...oods.map((s, i) => ({ label: s.name, X: zOod[i]!.mu })),
  ];
  for (const method of methods) {
    progress(`map ${method}`);
    const te = Date.now();
    const e = embedSets(embedInput, d, { method, seed, maxPoints: o.embedPoints ?? 2000 });
    const m = e.set.length;
    // Purity with ID train and ID test as one label (they should mix): how well the map keeps ID and each OoD set apart.
    const merged = Int32Array.from(e.set, (v) => (v <= 1 ? 0 : v));
    const purity = m > 11 ? knnPurity(e.coords, 2, merged, 10) : NaN;
    const file = `map-${method}.png`;
    await scatterChart(join(o.outDir, file), e.labels.map((label, si) => {
      const xs: number[] = [], ys: number[] = [];
      for (let i = 0; i < m; i++) if (e.set[i] === si) { xs.push(e.coords[2 * i]!); ys.push(e.coords[2 * i + 1]!); }
      return { name: label, x: xs, y: ys };
    }), {
      title: `${method === 'tsne' ? 't-SNE' : 'UMAP'} of latent codes mu(x), coloured by set`,
      subtitle: `${m} codes (stratified subsample), d = ${d}; 10-NN ID/OoD purity ${purity.toFixed(3)} (ID train and test as one set)`,
      xLabel: `${method} 1`, yLabel: `${method} 2`, seed, opacity: 0.6,
    });
    maps.push({ method, file, points: m, knnPurity10: purity });
    lap(`map-${method}`, te);
  }
  lap('figures', t);
  return maps;
}
