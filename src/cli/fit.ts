// `oodgen fit --checkpoint RUN --detector NAME`: fits a detector on the run's in-distribution data (its held-out
// validation split) and saves the state in RUN/detectors/NAME.*, so eval, the benchmark and the service reuse it.
// Also the flags shared with `oodgen eval` / `oodgen score` that the field detectors read: extra models (an
// ensemble, a background model, the large-latent LPath model) and per-detector options.
import type { Command } from 'commander';
import { OodgenError } from '../errors.js';
import type { LatentModel } from '../models/types.js';

export interface DetectorCliOptions {
  ensemble?: string[];
  background?: string;
  largeLatent?: string;
  compressor?: string;
  secondStage?: string;
  regretMode?: string;
  regretSteps?: number;
  neighbours?: number;
  fitLimit?: number;
}

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

/** Adds the field detectors' flags to a command. */
export function addDetectorFlags(cmd: Command): Command {
  return cmd
    .option('--ensemble <runs>', 'waic: the other ensemble members (run folders, comma-separated; the --checkpoint run is the first)', list)
    .option('--background <run>', 'likelihood-ratio: the background model, trained with `oodgen train --mutate`')
    .option('--large-latent <run>', 'lpath: a large-latent run giving v and w (the --checkpoint run, small latent, gives u and s)')
    .option('--compressor <c>', 'input-complexity: png (level 9) | webp (lossless)')
    .option('--second-stage <s>', 'lpath: copod | mahalanobis')
    .option('--regret-mode <m>', 'likelihood-regret: batched | loop')
    .option('--regret-steps <n>', 'likelihood-regret: Adam steps per image (default 100)', (v) => Number(v))
    .option('--neighbours <n>', 'lpath-knn: k of the k-th nearest ID code (default 5)', (v) => Number(v))
    .option('--fit-limit <n>', 'ID validation images used to fit detectors that need fitting (default 2000)', (v) => Number(v));
}

/** Detector options from the flags (only those given). */
export function detectorOptions(o: DetectorCliOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.compressor !== undefined) out.compressor = o.compressor;
  if (o.secondStage !== undefined) out.secondStage = o.secondStage;
  if (o.regretMode !== undefined) out.regretMode = o.regretMode;
  if (o.regretSteps !== undefined) out.steps = o.regretSteps;
  if (o.neighbours !== undefined) out.neighbours = o.neighbours;
  return out;
}

/** The models a detector takes: the checkpoint's, plus the runs named by the flags for multi-model detectors. */
export async function detectorModels(name: string, model: LatentModel, o: DetectorCliOptions, device: string): Promise<{ models: LatentModel[]; dispose: () => void }> {
  const { loadRun } = await import('../train/run.js');
  const extra: string[] = name === 'waic' ? (o.ensemble ?? []) : name === 'likelihood-ratio' ? (o.background ? [o.background] : [])
    : name === 'lpath' && o.largeLatent ? [o.largeLatent] : [];
  if (name === 'waic' && extra.length === 0) throw new OodgenError('waic needs an ensemble: --ensemble RUN2,RUN3,... (runs trained with other --seed values)');
  if (name === 'likelihood-ratio' && extra.length === 0) throw new OodgenError('likelihood-ratio needs --background RUN (a run trained with `oodgen train --mutate 0.2`)');
  const loaded = extra.map((dir) => {
    try {
      const m = loadRun(dir, { device }).model;
      m.eval();
      return m;
    } catch (e) {
      throw new OodgenError(`${dir}: ${(e as Error).message}`);
    }
  });
  return { models: [model, ...loaded], dispose: () => loaded.forEach((m) => m.dispose()) };
}

export function registerFitCommand(program: Command, io: { write?: (s: string) => void } = {}): void {
  const write = io.write ?? ((s: string) => process.stdout.write(s));
  const log = (s: string) => process.stderr.write(s + '\n');
  addDetectorFlags(program.command('fit')
    .description('fit a detector on the run\'s in-distribution validation split and save it in RUN/detectors/NAME.* (eval reuses it)')
    .requiredOption('--checkpoint <dir>', 'run folder')
    .requiredOption('--detector <name>', 'a registered detector that needs fitting (`oodgen detectors` marks them)')
    .option('--split <s>', 'val (default: the held-out validation split) | train', 'val')
    .option('--batch-size <n>', 'images per batch', (v) => Number(v), 100)
    .option('--k <n>', 'IWAE importance samples', (v) => Number(v))
    .option('--seed <n>', 'noise seed', (v) => Number(v))
    .option('--device <device>', 'cpu | cuda', 'cpu'))
    .action(async (o) => {
      const { createDetector, detectorSpec } = await import('../scores/index.js');
      const { ensureFitted } = await import('../scores/fit-run.js');
      const { loadRun } = await import('../train/run.js');
      const spec = detectorSpec(o.detector);
      if (!spec.fits) throw new OodgenError(`detector '${spec.name}' needs no fitting (it uses only the model)`);
      if (o.split !== 'val' && o.split !== 'train') throw new OodgenError(`--split must be val or train, got '${o.split}'`);
      const run = loadRun(o.checkpoint, { device: o.device });
      run.model.eval();
      const extra = await detectorModels(spec.name, run.model, o, o.device);
      try {
        const det = createDetector(spec.name, extra.models, { ...detectorOptions(o), ...(o.k !== undefined ? { k: o.k } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) });
        const t0 = performance.now();
        await ensureFitted(det, o.checkpoint, run.config, { refit: true, split: o.split, limit: o.fitLimit, batchSize: o.batchSize, log });
        write(`${spec.name}: fitted in ${((performance.now() - t0) / 1000).toFixed(1)} s; state in ${o.checkpoint}/detectors/${spec.name}.json\n`);
      } finally {
        extra.dispose();
        run.model.dispose();
      }
    });
}
