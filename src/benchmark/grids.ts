// Sample and reconstruction grids of a suite's models, as PNG bytes for report.html's data URIs: the first images
// of the ID set and of each OoD set above their reconstructions (Chen 2021 Fig. 3.3), and prior samples.
import { Generator, tidy } from '../engine/index.js';
import { loadDataset } from '../data/registry.js';
import { imageGridPng } from '../eval/grid.js';
import { hasCapabilities } from '../models/capabilities.js';
import type { LatentModel } from '../models/types.js';
import { withBnMode } from '../scores/bn-mode.js';
import { loadRun } from '../train/run.js';
import { originalsAndReconstructions } from '../ood/report.js';
import type { BenchmarkResult } from './run.js';

export interface ModelGrids {
  experiment: string;
  model: string;
  /** Per set: inputs (top row) over reconstructions (bottom row). */
  recon: { set: string; png: Buffer }[];
  samples: Buffer | null;
}

/** Grids for every (experiment, model) whose experiment asks for reconstructions (recon > 0). */
export async function modelGrids(r: BenchmarkResult, o: { device?: string; seed?: number } = {}): Promise<ModelGrids[]> {
  const out: ModelGrids[] = [];
  for (const { experiment, entry, pairs } of r.models) {
    const n = experiment.recon;
    if (n === 0 || pairs.length === 0) continue;
    const run = loadRun(entry.main.dir, { device: o.device ?? 'cpu' });
    const model = run.model as LatentModel;
    try {
      const cfg = model.config;
      const g: ModelGrids = { experiment: experiment.name, model: entry.name, recon: [], samples: null };
      if (hasCapabilities(model, ['encode', 'decode'])) {
        const specs = [...new Set(pairs.flatMap((p) => [p.id, p.ood]))];
        for (const spec of specs) {
          const set = (await loadDataset(spec, { imageSize: cfg.imageSize, channels: cfg.channels as 1 | 3, limit: n, seed: o.seed ?? 0 })).set;
          const [m, c, h, w] = set.shape;
          const per = c * h * w;
          const both = originalsAndReconstructions(model, set.images.subarray(0, m * per), [m, c, h, w]);
          g.recon.push({ set: spec, png: await imageGridPng(both, [2 * m, c, h, w], { nrow: m, scale: 2 }) });
        }
      }
      if (hasCapabilities(model, ['sample'])) {
        const k = 16;
        const x = withBnMode(model, 'eval', () => tidy(() => model.sample(k, { generator: Generator.cpu(o.seed ?? 0) }).toFloat32Array()));
        g.samples = await imageGridPng(x, [k, cfg.channels, cfg.imageSize, cfg.imageSize], { nrow: 8, scale: 2 });
      }
      out.push(g);
    } finally {
      model.dispose();
    }
  }
  return out;
}
