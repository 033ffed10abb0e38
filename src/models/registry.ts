// The model-family registry: `--model KIND`, run folders (config.json's model.kind) and createModel find a family
// here. A new family is one file (its model class and a ModelFamily) plus one line in builtin.ts, or
// registerModel(family) from outside code. Each family owns its training defaults (the one table the CLI and the
// library both read: trainDefaults), its config checks and its training step (TrainableModel.createTrainer), so
// the trainer has no per-family code.
import { OodgenError } from '../errors.js';
import type { Generator } from '../engine/random.js';
import type { DecoderType, ModelCapability, ModelConfig, TrainableModel } from './types.js';
import { BUILTIN_MODELS } from './builtin.js';

/** Training defaults of a family for a dataset. */
export interface TrainDefaults {
  /** Latent size when --z-dim is not given. */
  zDim: number;
  /** DCGAN width when --width is not given. */
  width: number;
  batchSize: number;
  /** Adam learning rate. */
  lr: number;
  /** Family-specific training hyper-parameters (stored in config.json training.hyper), or null. */
  hyper: Record<string, number> | null;
}

export interface ModelFamily {
  /** config.kind and `--model` value. */
  readonly kind: string;
  readonly title: string;
  /** The paper. */
  readonly reference: string;
  /** Capabilities of its models (MODEL_CAPABILITIES), for listing and for choosing detectors before loading a run. */
  readonly capabilities: readonly ModelCapability[];
  /** Decoder likelihoods it supports (the first is the default). */
  readonly decoders: readonly DecoderType[];
  /** One-line descriptions of the keys of defaults().hyper, for CLI help and errors. */
  readonly hyperDoc?: Readonly<Record<string, string>>;
  /** Training defaults for a dataset spec (e.g. 'fashion-mnist:train'); the library and the CLI both use them. */
  defaults(dataset: string): TrainDefaults;
  /** Family-specific config problems, one message each (the generic checks are in factory.ts). */
  configProblems?(c: ModelConfig): string[];
  /** A model of this family, initialised from `generator`. */
  create(config: ModelConfig, init: { generator?: Generator }): TrainableModel;
}

const families = new Map<string, ModelFamily>();

/** Adds a model family; a kind already registered is an error unless `replace` is set. */
export function registerModel(f: ModelFamily, opts: { replace?: boolean } = {}): void {
  if (typeof f.kind !== 'string' || !/^[a-z][a-z0-9-]*$/.test(f.kind)) throw new OodgenError(`model family '${f.kind}': the kind must be lower case letters, digits and '-'`);
  if (typeof f.create !== 'function' || typeof f.defaults !== 'function') throw new OodgenError(`model family '${f.kind}': create and defaults are required`);
  if (!f.decoders?.length) throw new OodgenError(`model family '${f.kind}': list at least one decoder`);
  if (families.has(f.kind) && !opts.replace) throw new OodgenError(`model family '${f.kind}' is already registered (pass { replace: true } to replace it)`);
  families.set(f.kind, f);
}

export function unregisterModel(kind: string): boolean {
  return families.delete(kind);
}

for (const f of BUILTIN_MODELS) registerModel(f);

export function listModels(): ModelFamily[] {
  return [...families.values()];
}

export function modelKinds(): string[] {
  return [...families.keys()];
}

/** The family of a kind; an OodgenError listing the kinds otherwise. */
export function modelFamily(kind: string): ModelFamily {
  const f = families.get(kind);
  if (!f) throw new OodgenError(`unknown model kind '${kind}' (${modelKinds().join(', ')})`);
  return f;
}

/** The training defaults of a family for a dataset spec: the single table behind `oodgen train` and train(). */
export function trainDefaults(kind: string, dataset: string): TrainDefaults {
  const d = modelFamily(kind).defaults(dataset);
  return { ...d, hyper: d.hyper ? { ...d.hyper } : null };
}
