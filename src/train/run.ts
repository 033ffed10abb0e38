// A training run's folder: config.json (zod-validated), model.safetensors / best.safetensors (PyTorch state_dict
// names), optimizer.safetensors, state.json (step, epoch, RNG states, data position), log.jsonl, samples.png,
// reconstructions.png. Every file is written atomically (temp file + rename), state.json last, so a crash leaves
// the previous complete checkpoint in place.
import { existsSync, readFileSync, renameSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { OodgenError } from '../errors.js';
import { createModel } from '../models/factory.js';
import type { LatentModel } from '../models/types.js';
import type { LatentBase } from '../models/vae.js';
import { loadStateDict } from '../io/checkpoint.js';

export const ModelConfigSchema = z.object({
  /** A registered model family (src/models/registry.ts); checked when the model is built. */
  kind: z.string().min(1),
  decoder: z.enum(['gaussian', 'categorical', 'bernoulli']),
  channels: z.number().int().min(1).max(3),
  imageSize: z.union([z.literal(32), z.literal(28)]),
  zDim: z.number().int().positive(),
  width: z.number().int().positive(),
  sigma2: z.union([z.number().positive(), z.literal('learned')]).optional(),
  beta: z.number().nonnegative().optional(),
  flow: z.object({ levels: z.number().int().positive(), steps: z.number().int().positive(), width: z.number().int().positive(), lu: z.boolean() }).strict().optional(),
}).strict();

export const SintroHyperSchema = z.object({
  betaKl: z.number().nonnegative(),
  betaRec: z.number().nonnegative(),
  betaNeg: z.number().nonnegative(),
  gammaR: z.number().nonnegative(),
}).strict();

export const RunConfigSchema = z.object({
  format: z.literal('oodgen-run/1'),
  model: ModelConfigSchema,
  data: z.object({
    /** Dataset spec of the training images (e.g. fashion-mnist:train), or a description for in-memory sets. */
    train: z.string(),
    /** Fraction of the training split held out for validation (seeded split). */
    valFraction: z.number().min(0).max(0.9),
    /** At most this many validation images are evaluated each epoch. */
    valLimit: z.number().int().positive(),
    limit: z.number().int().positive().optional(),
    imageSize: z.number().int().positive(),
    channels: z.number().int().positive(),
    /** Train on dequantized pixels ((x*255 + u)/256): true for continuous (gaussian) likelihoods. */
    dequantize: z.boolean(),
    /** Likelihood-ratio background runs: each training value replaced by a uniform 8-bit level with this probability. */
    mutate: z.number().min(0).max(1).optional(),
    preprocessing: z.unknown().nullable(),
    trainCount: z.number().int().nonnegative(),
    valCount: z.number().int().nonnegative(),
  }).strict(),
  training: z.object({
    batchSize: z.number().int().positive(),
    lr: z.number().positive(),
    betas: z.tuple([z.number(), z.number()]),
    epochs: z.number().int().positive().nullable(),
    maxSteps: z.number().int().positive().nullable(),
    timeBudgetMin: z.number().positive().nullable(),
    checkpointEvery: z.number().int().positive(),
    logEvery: z.number().int().positive(),
    patience: z.number().int().positive().nullable(),
    /** Early stopping's minimum improvement in nats per image (early-stopping.ts); absent: 0. */
    minDelta: z.number().nonnegative().optional(),
    /** Family-specific training hyper-parameters (ModelFamily.defaults().hyper with the user's overrides), or null. */
    hyper: z.record(z.number()).nullable().optional(),
    /** Run folders written before the model registry stored Soft-IntroVAE's hyper-parameters here (read as hyper). */
    sintro: SintroHyperSchema.nullable().optional(),
    /**
     * The GPU training path's options (trainer.ts; docs/gpu.md): training set resident on the device, channels_last
     * layout, bf16/fp16 autocast of the forward passes, CUDA-graph capture of the step. Absent: all off.
     */
    speed: z.object({
      residentData: z.boolean(),
      channelsLast: z.boolean(),
      autocast: z.enum(['bf16', 'fp16']).nullable(),
      cudaGraph: z.boolean(),
    }).strict().optional(),
  }).strict(),
  seed: z.number().int(),
  device: z.string(),
  engine: z.object({ torch: z.string(), oodgen: z.string(), cudaBuild: z.boolean().optional() }).passthrough(),
  command: z.string().optional(),
  /** A run restarted from another folder's weights after its optimizer state was lost (train/restart.ts). */
  restartedFrom: z.object({
    dir: z.string(), weights: z.string(), sha256: z.string(),
    step: z.number().int().nonnegative(), epoch: z.number().int().nonnegative(),
    /** The source run's own command. */
    command: z.string().optional(),
    note: z.string(),
  }).strict().optional(),
  createdAt: z.string(),
}).strict();

export type RunConfig = z.infer<typeof RunConfigSchema>;

/** A run's training hyper-parameters, from training.hyper or (older runs) training.sintro. */
export function runHyper(cfg: RunConfig): Record<string, number> | null {
  return cfg.training.hyper ?? cfg.training.sintro ?? null;
}

export const RunStateSchema = z.object({
  format: z.literal('oodgen-state/1'),
  step: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  /** Batches of the current epoch already consumed (the epoch's order is a function of seed and epoch). */
  batchInEpoch: z.number().int().nonnegative(),
  bestVal: z.number().nullable(),
  bestStep: z.number().int().nullable(),
  /** The validation ELBO that last reset epochsSinceBest (early-stopping.ts); absent in older runs (bestVal). */
  patienceRef: z.number().nullable().optional(),
  epochsSinceBest: z.number().int().nonnegative(),
  /** Generator states, base64 of Generator.getState(). */
  rng: z.record(z.string()),
  /** Training wall time over all invocations, ms. */
  elapsedMs: z.number().nonnegative(),
  stopReason: z.string().nullable(),
  done: z.boolean(),
}).strict();

export type RunState = z.infer<typeof RunStateSchema>;

export const RUN_FILES = {
  config: 'config.json', model: 'model.safetensors', best: 'best.safetensors', optimizer: 'optimizer.safetensors',
  state: 'state.json', log: 'log.jsonl', samples: 'samples.png', reconstructions: 'reconstructions.png',
} as const;

/** Writes text or bytes atomically (temp file in the same folder, then rename). */
export function writeFileAtomic(path: string, text: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* ignore */ }
    throw new OodgenError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

export const writeJsonAtomic = (path: string, v: unknown): void => writeFileAtomic(path, JSON.stringify(v, null, 2) + '\n');

function readJson<T>(path: string, schema: z.ZodType<T>, what: string): T {
  if (!existsSync(path)) throw new OodgenError(`${path}: missing (${what}); is this an oodgen run folder?`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new OodgenError(`${path}: corrupt ${what}: not valid JSON (${(e as Error).message})`);
  }
  const r = schema.safeParse(data);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 4).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new OodgenError(`${path}: invalid ${what}: ${issues}`);
  }
  return r.data;
}

export function readRunConfig(dir: string): RunConfig {
  if (!existsSync(dir)) throw new OodgenError(`run folder ${dir} does not exist`);
  return readJson(join(dir, RUN_FILES.config), RunConfigSchema, 'run config');
}

export function readRunState(dir: string): RunState {
  return readJson(join(dir, RUN_FILES.state), RunStateSchema, 'run state');
}

/**
 * Loads a trained model from a run folder, in eval mode. which: 'final' (model.safetensors, default) or 'best'
 * (best.safetensors, the early-stopping best; falls back to nothing: a missing file is an error).
 */
export function loadRun(dir: string, opts: { device?: string; which?: 'final' | 'best' } = {}): { model: LatentModel & LatentBase; config: RunConfig } {
  const config = readRunConfig(dir);
  const file = join(dir, opts.which === 'best' ? RUN_FILES.best : RUN_FILES.model);
  if (!existsSync(file)) throw new OodgenError(`${file}: missing (${opts.which === 'best' ? 'best' : 'final'} weights of run ${dir})`);
  let model: LatentModel & LatentBase;
  try {
    model = createModel(config.model, { device: opts.device });
  } catch (e) {
    throw new OodgenError(`${join(dir, RUN_FILES.config)}: ${(e as Error).message}`);
  }
  try {
    loadStateDict(file, model);
  } catch (e) {
    model.dispose();
    const msg = (e as Error).message;
    throw new OodgenError(msg.includes(file) ? msg : `${file}: corrupt or incompatible checkpoint (${msg})`);
  }
  model.eval();
  return { model, config };
}
