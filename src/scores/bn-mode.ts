// BatchNorm statistics at scoring time (Chen 2021, section 3.3.5 and Fig. 3.7). A model trained with BatchNorm
// normally scores with the running (population) statistics; normalising with the statistics of the batch being
// scored instead changes the likelihood the model assigns, and does so differently for ID and OoD data.
//   eval: every BatchNorm uses its running statistics (the usual eval mode)
//   enc:  encoder BatchNorms use batch statistics, decoder BatchNorms running statistics
//   dec:  decoder BatchNorms use batch statistics, encoder BatchNorms running statistics
//   both: every BatchNorm uses batch statistics
// Batch statistics never update the running statistics ('batch' mode of src/nn/batchnorm.ts), so scoring leaves
// the model unchanged. Because batch statistics depend on what else is in the batch, the driver (driver.ts)
// records how batches were formed. With decoder batch statistics (dec, both), the decoder normalises over the codes
// it decodes together: B * L codes for the ELBO, up to `decodeBatch` codes (K' posterior samples of each of the B
// images) per chunk for IWAE.
import { batchNormsIn, type BatchStatsMode } from '../nn/batchnorm.js';
import type { Module } from '../nn/module.js';
import type { GenerativeModel } from '../models/types.js';
import { OodgenError } from '../errors.js';

export const BN_MODES = ['eval', 'enc', 'dec', 'both'] as const;
export type BnMode = (typeof BN_MODES)[number];

export function parseBnMode(s: string): BnMode {
  if ((BN_MODES as readonly string[]).includes(s)) return s as BnMode;
  throw new OodgenError(`unknown BatchNorm mode '${s}' (expected one of ${BN_MODES.join(', ')})`);
}

/** Whether the encoder / decoder BatchNorms use batch statistics in a mode. */
export function bnUsesBatchStats(mode: BnMode): { encoder: boolean; decoder: boolean } {
  return { encoder: mode === 'enc' || mode === 'both', decoder: mode === 'dec' || mode === 'both' };
}

export const BN_MODE_DESCRIPTIONS: Record<BnMode, string> = {
  eval: 'running statistics everywhere',
  enc: 'encoder BatchNorm uses batch statistics, decoder running statistics',
  dec: 'decoder BatchNorm uses batch statistics, encoder running statistics',
  both: 'batch statistics in encoder and decoder BatchNorm',
};

const batchNorms = batchNormsIn;

/** The model's encoder and decoder parts for BN modes: batchNormGroups() ('batchnorm' capability), else encoder/decoder. */
function parts(model: GenerativeModel): { encoder: Module | null; decoder: Module | null } {
  const g = model.batchNormGroups?.() ?? (model as { encoder?: Module; decoder?: Module });
  return { encoder: g.encoder ?? null, decoder: g.decoder ?? null };
}

/** Why the model cannot be put in BatchNorm mode `mode` (it lacks the part whose batch statistics it uses), or null. */
export function bnModeProblem(model: GenerativeModel, mode: BnMode): string | null {
  const uses = bnUsesBatchStats(parseBnMode(mode));
  const { encoder, decoder } = parts(model);
  if ((uses.encoder && !encoder) || (uses.decoder && !decoder)) {
    return `BatchNorm mode '${mode}' needs a model with an ${uses.encoder && !encoder ? 'encoder' : 'decoder'} part (batchNormGroups); a ${model.config.kind} model has none: use --bn eval`;
  }
  return null;
}

/**
 * Puts the model in eval mode with the BatchNorm statistics of `mode`; returns a function that restores every
 * module's training flag and every BatchNorm's previous statistics mode.
 */
export function applyBnMode(model: GenerativeModel, mode: BnMode): () => void {
  const problem = bnModeProblem(model, mode);
  if (problem) throw new OodgenError(problem);
  const uses = bnUsesBatchStats(parseBnMode(mode));
  const { encoder, decoder } = parts(model);
  const training = model.namedModules().map(([, m]) => [m, m.training] as const);
  const all = batchNorms(model);
  const previous = all.map((b) => [b, b.statsMode] as const);
  const set = (m: Module | null, batch: boolean) => {
    const want: BatchStatsMode = batch ? 'batch' : 'running';
    if (m) for (const b of batchNorms(m)) b.statsMode = want;
  };
  model.eval();
  for (const b of all) b.statsMode = 'running';
  set(encoder, uses.encoder);
  set(decoder, uses.decoder);
  return () => {
    for (const [b, s] of previous) b.statsMode = s;
    for (const [m, t] of training) m.training = t;
  };
}

/**
 * applyBnMode for several models at once (a multi-model detector's ensemble, background or large-latent model: no
 * model of one score runs in another mode than the row says); each model once; returns the function that restores
 * them all, and restores those already set when one of them fails.
 */
export function applyBnModes(models: Iterable<GenerativeModel>, mode: BnMode): () => void {
  const restores: (() => void)[] = [];
  const restoreAll = () => { for (const r of restores.splice(0).reverse()) r(); };
  try {
    for (const m of new Set(models)) restores.push(applyBnMode(m, mode));
  } catch (e) {
    restoreAll();
    throw e;
  }
  return restoreAll;
}

/** Runs fn with the model in BatchNorm mode `mode`, restoring the model afterwards (also when fn throws). */
export function withBnMode<T>(model: GenerativeModel, mode: BnMode, fn: () => T): T {
  const restore = applyBnMode(model, mode);
  try {
    return fn();
  } finally {
    restore();
  }
}
