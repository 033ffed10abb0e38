// Benchmark suites: a JSON file (or a built-in name) listing experiments, each a set of models (zoo names or run
// folders) x detectors x BatchNorm modes x ID/OoD pairs. Validated with zod so a typo fails before any work,
// naming the file and the field.
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { OodgenError } from '../errors.js';
import { BUILTIN_SUITES } from './builtin-suites.js';

const name = z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only');

/** A model: a zoo name (`zoo/NAME/`) or a run folder; with the extra models multi-model detectors take. */
export const ModelRefSchema = z.union([
  z.string().min(1),
  z.object({
    run: z.string().min(1),
    /** Label in tables (default: the run). */
    name: name.optional(),
    /** waic: the other ensemble members (this model is the first). */
    ensemble: z.array(z.string().min(1)).min(1).optional(),
    /** likelihood-ratio: the background model (trained with --mutate). */
    background: z.string().min(1).optional(),
    /** lpath: the large-latent model giving v and w. */
    largeLatent: z.string().min(1).optional(),
  }).strict(),
]);
export type ModelRef = z.infer<typeof ModelRefSchema>;

export const PairRefSchema = z.union([z.string().min(1), z.object({ name, id: z.string().min(1), ood: z.string().min(1), note: z.string().optional() }).strict()]);

/** A detector experiment (the default kind): models x detectors x BatchNorm modes x pairs, one evaluate() per unit. */
export const ExperimentSchema = z.object({
  kind: z.literal('detectors'),
  name,
  /** What the experiment reproduces (the thesis's figure / table / claim). */
  description: z.string().optional(),
  models: z.array(ModelRefSchema).min(1),
  /** Registered detector names; "*" is every registered detector. */
  detectors: z.array(z.string().min(1)).min(1),
  bn: z.array(z.enum(['eval', 'enc', 'dec', 'both'])).min(1).default(['eval']),
  /** Pair names, group names (fmnist, cifar10, celeba) or {name, id, ood}. */
  pairs: z.array(PairRefSchema).min(1),
  /** Detector options (k, samples, steps, compressor, secondStage, ...). */
  options: z.record(z.unknown()).default({}),
  /** Images per set (overrides the suite's). */
  limit: z.number().int().positive().optional(),
  /** Per-detector images per set, for the expensive ones (likelihood regret: ~100 optimizer steps per image). */
  detectorLimits: z.record(z.number().int().positive()).default({}),
  /** Reconstructions shown per set in report.html (0: none). */
  recon: z.number().int().min(0).max(64).default(8),
}).strict();
export type Experiment = z.infer<typeof ExperimentSchema>;

/**
 * A latent experiment (Chen 2021 Sec. 3.4, Table 3.1, Fig. 3.10; src/analysis): per model and ID set, the linear SVM
 * on posterior means, ID (the model's own training data to fit, the pair's ID set held out) vs each pair's OoD set
 * (halves: fit / held out), with its controls, and the OoD codes moved along the SVM normal (benchmark/latent.ts).
 */
export const LatentExperimentSchema = z.object({
  kind: z.literal('latent'),
  name,
  description: z.string().optional(),
  /** Zoo names or run folders of models with an encoder (VAE, AE, Soft-IntroVAE). */
  models: z.array(z.string().min(1)).min(1),
  /** Pair names, groups or {name, id, ood}; pairs sharing an ID set form one unit (one SVM per OoD set). */
  pairs: z.array(PairRefSchema).min(1),
  /** BatchNorm statistics when encoding and decoding. */
  bn: z.enum(['eval', 'enc', 'dec', 'both']).default('eval'),
  /** Images per set (overrides the suite's); the ID fitting set is the model's training data at this limit. */
  limit: z.number().int().min(8).optional(),
  /** SVM inverse regularisation on standardised codes (the analysis' default 1). */
  svmC: z.number().positive().finite().default(1),
}).strict();
export type LatentExperiment = z.infer<typeof LatentExperimentSchema>;

/** An experiment without `kind` is a detector experiment (suites written before latent experiments existed). */
const AnyExperimentSchema = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('kind' in v) ? { ...v, kind: 'detectors' } : v),
  z.discriminatedUnion('kind', [ExperimentSchema, LatentExperimentSchema]),
);
export type AnyExperiment = Experiment | LatentExperiment;

export const SuiteSchema = z.object({
  name,
  description: z.string().default(''),
  /** Images per set (evenly spaced), unless an experiment says otherwise. */
  limit: z.number().int().positive().default(1000),
  /** ID validation images used to fit detectors that need fitting. */
  fitLimit: z.number().int().min(2).default(2000),
  bootstrap: z.number().int().min(0).default(200),
  batchSize: z.number().int().positive().default(100),
  seed: z.number().int().min(0).default(0),
  /** What the suite does not cover, and where to get it. */
  notes: z.array(z.string()).default([]),
  experiments: z.array(AnyExperimentSchema).min(1),
}).strict();
export type Suite = z.infer<typeof SuiteSchema>;

function issues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top)'}: ${i.message}`).join('; ');
}

/** Validates a parsed suite object; `where` names it in errors. */
export function parseSuite(v: unknown, where: string): Suite {
  const r = SuiteSchema.safeParse(v);
  if (!r.success) throw new OodgenError(`suite ${where}: ${issues(r.error)}`);
  const names = r.data.experiments.map((x) => x.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new OodgenError(`suite ${where}: experiment '${dup}' is listed twice`);
  return r.data;
}

/** A built-in suite name (`seed`, `detectors`) or a JSON file. */
export function loadSuite(nameOrFile: string): Suite {
  const builtin = BUILTIN_SUITES[nameOrFile];
  if (builtin) return parseSuite(builtin, `'${nameOrFile}' (built in)`);
  if (!existsSync(nameOrFile)) {
    throw new OodgenError(`--suite ${nameOrFile}: neither a built-in suite (${Object.keys(BUILTIN_SUITES).join(', ')}) nor an existing file`);
  }
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(nameOrFile, 'utf8'));
  } catch (e) {
    throw new OodgenError(`suite ${nameOrFile}: not valid JSON (${(e as Error).message})`);
  }
  return parseSuite(v, nameOrFile);
}
