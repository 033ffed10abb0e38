// Cost of the field detectors: images/s of each on this machine (never a timed test). Weights are random: the
// cost of a detector does not depend on what the model learned, only on its architecture and settings.
//   oodgen bench regret      likelihood regret, per-image loop vs batched (stacked encoder copies)
//   oodgen bench detectors   every registered detector at its default settings (fitted ones on random ID data)
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { Generator, rand, tidy, keep, getNumThreads, buildInfo, liveTensors, type Tensor } from '../src/engine/index.js';
import { createModel } from '../src/models/factory.js';
import { capabilitiesOf } from '../src/models/capabilities.js';
import type { LatentModel, ModelConfig } from '../src/models/types.js';
import { createDetector, detectorSpec, listDetectors } from '../src/scores/index.js';
import { regretBatched, regretLoop } from '../src/scores/likelihood-regret.js';
import { Noise } from '../src/scores/latent.js';

export const MODEL_SIZES: Record<string, ModelConfig> = {
  tiny: { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 4, width: 8 },
  // The demo's model (src/cli/demo.ts DEMO_MODEL).
  demo: { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 32, width: 32, sigma2: 'learned' },
};

function env() {
  return { threads: getNumThreads(), cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', loadavg1: loadavg()[0], torch: buildInfo().torchVersion ?? buildInfo() };
}

function model(size: string): LatentModel {
  const cfg = MODEL_SIZES[size];
  if (!cfg) throw new Error(`--size must be one of ${Object.keys(MODEL_SIZES).join(', ')}`);
  const m = createModel(cfg, { generator: Generator.cpu(0) });
  m.eval();
  return m;
}

const images = (m: LatentModel, n: number, seed: number): Tensor =>
  keep(rand([n, m.config.channels, m.config.imageSize, m.config.imageSize], { generator: Generator.cpu(seed) }));

export interface RegretBench {
  size: string; n: number; steps: number; k: number; group: number;
  loop: { images_per_s: number; seconds: number };
  batched: { images_per_s: number; seconds: number };
  max_abs_diff: number; env: ReturnType<typeof env>;
}

export function benchRegret(o: { size?: string; n?: number; steps?: number; k?: number; group?: number } = {}): RegretBench {
  const size = o.size ?? 'demo', n = o.n ?? 16, steps = o.steps ?? 100, k = o.k ?? 50, group = o.group ?? n;
  const m = model(size);
  const x = images(m, n, 1);
  const z = m.config.zDim;
  const nz = new Noise(3);
  const noise = { train: keep(nz.randn([steps, n, z], 'cpu')), iwae: keep(nz.randn([k, n, z], 'cpu')) };
  const opts = { steps, k };
  regretBatched(m, x, noise, { steps: 1, k: 1, group }); // warm-up
  let t0 = performance.now();
  const a = regretLoop(m, x, noise, opts);
  const tl = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const b = regretBatched(m, x, noise, { ...opts, group });
  const tb = (performance.now() - t0) / 1000;
  let diff = 0;
  for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(a.regret[i]! - b.regret[i]!));
  x.dispose(); noise.train.dispose(); noise.iwae.dispose(); m.dispose();
  return { size, n, steps, k, group, loop: { images_per_s: n / tl, seconds: tl }, batched: { images_per_s: n / tb, seconds: tb }, max_abs_diff: diff, env: env() };
}

export interface DetectorCost { detector: string; images_per_s: number; seconds: number; n: number; fit_seconds?: number; note?: string }

/** images/s of every registered single-model detector (multi-model ones with copies of the same model). */
export async function benchDetectors(o: { size?: string; n?: number; only?: string[]; batch?: number } = {}): Promise<{ size: string; costs: DetectorCost[]; env: ReturnType<typeof env>; live: number }> {
  const size = o.size ?? 'demo', n = o.n ?? 100, batch = o.batch ?? 100;
  const m = model(size), m2 = model(size);
  const start = liveTensors();
  const costs: DetectorCost[] = [];
  // Without --only: the detectors this VAE can run (a flow-only score such as exact-nll needs logProb, which a VAE
  // lacks); a name given with --only that the model cannot run still fails, with the registry's message.
  const names = o.only ?? listDetectors().filter((s) => s.needs.every((c) => capabilitiesOf(m).includes(c))).map((s) => s.name);
  for (const name of names) {
    const spec = detectorSpec(name);
    const models = (spec.models?.min ?? 1) >= 2 ? [m, m2] : [m];
    const det = createDetector(name, models, {});
    let fitSeconds: number | undefined;
    if (det.fit) {
      const id = images(m, 200, 5);
      const t = performance.now();
      await det.fit({ images: id.toFloat32Array(), shape: id.shape as [number, number, number, number], name: 'random' }, { batchSize: batch });
      fitSeconds = (performance.now() - t) / 1000;
      id.dispose();
    }
    const x = images(m, n, 7);
    const t0 = performance.now();
    for (let s = 0; s < n; s += batch) {
      tidy(() => {
        const xb = x.shape[0]! <= batch ? x : x.narrow(0, s, Math.min(batch, n - s));
        det.evaluate(xb);
      });
    }
    const sec = (performance.now() - t0) / 1000;
    x.dispose();
    costs.push({ detector: name, images_per_s: n / sec, seconds: sec, n, ...(fitSeconds !== undefined ? { fit_seconds: fitSeconds } : {}), ...(models.length > 1 ? { note: `${models.length} models` } : {}) });
  }
  const live = liveTensors() - start;
  m.dispose(); m2.dispose();
  return { size, costs, env: env(), live };
}
