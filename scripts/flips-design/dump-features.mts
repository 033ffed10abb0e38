// Per-image features of a run for the lpath-knn design study (docs/results.md, Fashion-MNIST detector section):
// posterior means and log-variances, the ELBO's components (1 sample, seed 0), LPath's u, on the run's ID
// validation split (2,000 images, as the detectors are fitted), 6,000 training-split images, and 1,000 images of
// each evaluated set (evenly spaced, as `oodgen eval --limit 1000`). BatchNorm running statistics.
//   node --import tsx scripts/flips-design/dump-features.mts zoo/fm-vae-gauss OUT.json
import { writeFileSync } from 'node:fs';
import { setNumThreads, tidy, noGrad } from '../../src/engine/index.js';
import { loadCheckpoint, loadForModel } from '../../src/cli/args.js';
import { runFitData } from '../../src/scores/fit-run.js';
import { applyBnMode } from '../../src/scores/bn-mode.js';
import { imageBatch } from '../../src/data/batches.js';
import { elboComponents } from '../../src/scores/components.js';
import { Noise, gaussianPosterior } from '../../src/scores/latent.js';
import { lpathStatistics } from '../../src/scores/lpath.js';
import type { Images } from '../../src/data/types.js';

const [runDir, out] = process.argv.slice(2);
if (!runDir || !out) throw new Error('usage: dump-features.mts RUN OUT.json');
setNumThreads(1);
const run = await loadCheckpoint(runDir, 'cpu');
const model = run.model;
const restore = applyBnMode(model, 'eval');
const sets: Record<string, Images> = {
  val: (await runFitData(run.config as never, { limit: 2000 })).images,
  train: (await runFitData(run.config as never, { limit: 6000, split: 'train' })).images,
};
const eval_ = ['fashion-mnist:test', 'fashion-mnist:test+hflip', 'fashion-mnist:test+vflip', 'mnist:test', 'noise', 'constant', ...process.argv.slice(4)];
for (const s of eval_) sets[s] = (await loadForModel(s, model, 1000, 0)).set;
const result: Record<string, Record<string, number[] | number>> = {};
for (const [name, set] of Object.entries(sets)) {
  const n = set.shape[0];
  const noise = new Noise(0);
  const cols: Record<string, number[]> = { mu: [], logvar: [], rec: [], prior: [], entropy: [], u: [] };
  for (let s = 0; s < n; s += 100) {
    const idx = Array.from({ length: Math.min(100, n - s) }, (_, i) => s + i);
    noGrad(() => tidy(() => {
      const x = imageBatch(set, idx, 'cpu');
      const p = gaussianPosterior(model.encode(x), 'dump');
      cols.mu!.push(...p.mu.toFloat32Array());
      cols.logvar!.push(...p.logvar.toFloat32Array());
      const c = elboComponents(model, x, { samples: 1, eps: noise });
      cols.rec!.push(...c.reconstruction.toFloat32Array());
      cols.prior!.push(...c.prior.toFloat32Array());
      cols.entropy!.push(...c.entropy.toFloat32Array());
      cols.u!.push(...lpathStatistics(model, x).u);
    }));
  }
  result[name] = { n, ...cols };
  process.stderr.write(`${name}: ${n} images\n`);
}
restore();
model.dispose();
writeFileSync(out, JSON.stringify(result));
