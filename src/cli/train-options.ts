// `oodgen train` options: validated with zod and turned into the trainer's options before any data is read or any
// tensor is made. Defaults come from the model family's table (models/registry.ts trainDefaults), the same one the
// library uses.
import { z } from 'zod';
import { OodgenError } from '../errors.js';
import { modelFamily, modelKinds, listModels, resolveModelConfig, trainDefaults } from '../models/registry.js';
import { modelConfigProblems } from '../models/factory.js';
import type { FlowSizes, ModelConfig } from '../models/types.js';
import { glowSizes } from '../models/glow.js';
import { defaultFvaeFlow } from '../models/fvae.js';
import { resolveDevice } from '../engine/device.js';
import { parseSpec, DATASETS } from '../data/registry.js';
import type { TrainOptions } from '../train/trainer.js';

const COLOUR = ['cifar10', 'cifar-10', 'cifar100', 'svhn', 'celeba', 'lsun'];
export const num = (what: string) => z.string().transform((s, ctx) => {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${what} must be a number, got '${s}'` });
    return z.NEVER;
  }
  return v;
});
export const int = (what: string, min = 1) => num(what).refine((v) => !Number.isFinite(v) || (Number.isInteger(v) && v >= min), { message: `${what} must be an integer >= ${min}` });
const pos = (what: string) => num(what).refine((v) => !Number.isFinite(v) || v > 0, { message: `${what} must be > 0` });

/**
 * Flow sizes from --flow-levels/--flow-steps/--flow-width/--lu for the families with a flow (their resolveConfig
 * fills what is not given); an error for the others.
 */
function flowSizes(o: { flowLevels?: number; flowSteps?: number; flowWidth?: number; lu?: boolean }, model: Pick<ModelConfig, 'kind' | 'channels' | 'imageSize' | 'zDim' | 'width'>): { flow?: FlowSizes } {
  const kind = model.kind;
  const given = (['flowLevels', 'flowSteps', 'flowWidth', 'lu'] as const).filter((k) => o[k] !== undefined);
  const hasFlow = kind === 'glow' || kind === 'fvae';
  if (!hasFlow) {
    if (given.length) throw new OodgenError(`${given.map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(', ')}: flow sizes apply to --model glow and fvae only`);
    return {};
  }
  if (!given.length) return {};
  const base = kind === 'glow' ? glowSizes({ width: model.width, imageSize: model.imageSize }) : defaultFvaeFlow(model);
  return { flow: { levels: o.flowLevels ?? base.levels, steps: o.flowSteps ?? base.steps, width: o.flowWidth ?? base.width, lu: o.lu ?? base.lu } };
}

/** CLI flags of family training hyper-parameters (ModelFamily.defaults().hyper keys). */
const HYPER_FLAGS = { betaKl: '--beta-kl', betaRec: '--beta-rec', betaNeg: '--beta-neg', gammaR: '--gamma-r', maxGradNorm: '--max-grad-norm' } as const;

const TrainCliSchema = z.object({
  model: z.string().refine((k) => modelKinds().includes(k), (k) => ({ message: `--model must be one of ${modelKinds().join(', ')}, got '${k}'` })).optional(),
  decoder: z.enum(['gaussian', 'categorical', 'bernoulli'], { errorMap: () => ({ message: '--decoder must be gaussian, categorical or bernoulli' }) }).optional(),
  data: z.string().min(1).optional(),
  out: z.string().min(1, '--out is required'),
  zDim: int('--z-dim').optional(),
  width: int('--width').optional(),
  imageSize: z.enum(['32', '28'], { errorMap: () => ({ message: '--image-size must be 32 or 28' }) }).transform(Number).optional(),
  channels: z.enum(['1', '3'], { errorMap: () => ({ message: '--channels must be 1 or 3' }) }).transform(Number).optional(),
  sigma2: z.union([z.literal('learned'), pos('--sigma2')]).optional(),
  beta: num('--beta').refine((v) => v >= 0, '--beta must be >= 0').optional(),
  batchSize: int('--batch-size').optional(),
  epochs: int('--epochs').optional(),
  maxSteps: int('--max-steps').optional(),
  timeBudget: pos('--time-budget').optional(),
  lr: pos('--lr').optional(),
  seed: int('--seed', 0).optional(),
  device: z.string().regex(/^(cpu|cuda(:\d+)?)$/, '--device must be cpu, cuda or cuda:N').optional(),
  resume: z.boolean().optional(),
  restartFrom: z.string().min(1, '--restart-from needs a folder').optional(),
  limit: int('--limit').optional(),
  valFraction: num('--val-fraction').refine((v) => v >= 0 && v < 0.9, '--val-fraction must be in [0, 0.9)').optional(),
  valLimit: int('--val-limit').optional(),
  patience: int('--patience', 0).optional(),
  minDelta: num('--min-delta').refine((v) => v >= 0, '--min-delta must be >= 0 (nats per image)').optional(),
  checkpointEvery: int('--checkpoint-every').optional(),
  logEvery: int('--log-every').optional(),
  flowLevels: int('--flow-levels').optional(),
  flowSteps: int('--flow-steps').optional(),
  flowWidth: int('--flow-width').optional(),
  lu: z.boolean().optional(),
  betaKl: num('--beta-kl').optional(),
  betaRec: num('--beta-rec').optional(),
  betaNeg: num('--beta-neg').optional(),
  maxGradNorm: num('--max-grad-norm').refine((v) => v >= 0, '--max-grad-norm must be >= 0 (0: no clipping)').optional(),
  gammaR: num('--gamma-r').optional(),
  dequantize: z.boolean().optional(),
  mutate: num('--mutate').refine((v) => v >= 0 && v <= 1, '--mutate must be a rate in [0, 1]').optional(),
  progress: z.enum(['auto', 'bar', 'json', 'none']).optional(),
  residentData: z.boolean().optional(),
  channelsLast: z.boolean().optional(),
  autocast: z.enum(['bf16', 'fp16'], { errorMap: () => ({ message: '--autocast must be bf16 or fp16' }) }).optional(),
  cudaGraph: z.boolean().optional(),
  grids: z.boolean().optional(),
}).strict();

/** The GPU training path's flags (docs/gpu.md), checked against --device before any work. */
function speedOptions(o: TrainCli): Pick<TrainOptions, 'residentData' | 'channelsLast' | 'autocast' | 'cudaGraph'> {
  const device = o.device ?? 'cpu';
  if (o.cudaGraph && !/^cuda(:\d+)?$/.test(device)) {
    throw new OodgenError(`--cuda-graph needs --device cuda (got --device ${device}): CUDA graphs capture GPU kernels; drop --cuda-graph to train on the CPU`);
  }
  if (o.autocast === 'fp16' && device === 'cpu') throw new OodgenError('--autocast fp16 needs --device cuda: libtorch autocasts to bf16 only on the CPU (use --autocast bf16)');
  return {
    ...(o.residentData !== undefined ? { residentData: o.residentData } : {}),
    ...(o.channelsLast !== undefined ? { channelsLast: o.channelsLast } : {}),
    ...(o.autocast !== undefined ? { autocast: o.autocast } : {}),
    ...(o.cudaGraph !== undefined ? { cudaGraph: o.cudaGraph } : {}),
  };
}

export type TrainCli = z.infer<typeof TrainCliSchema>;

export function zodMessage(e: z.ZodError): string {
  return e.issues.map((i) => i.message + (i.path.length && !i.message.includes('--') ? ` (--${String(i.path[0]).replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())})` : '')).join('; ');
}

/** Validates `oodgen train` options and returns the trainer's options; throws OodgenError before any work. */
export async function parseTrainOptions(raw: Record<string, unknown>, argv: string[] = process.argv): Promise<TrainOptions> {
  const r = TrainCliSchema.safeParse(raw);
  if (!r.success) throw new OodgenError(zodMessage(r.error));
  const o = r.data;
  if (o.device !== undefined && o.device !== 'cpu') {
    try {
      resolveDevice(o.device);
    } catch (e) {
      throw new OodgenError(`--device ${o.device}: ${(e as Error).message}`);
    }
  }
  const common = {
    out: o.out,
    epochs: o.epochs, maxSteps: o.maxSteps, timeBudgetMin: o.timeBudget, device: o.device,
    progress: o.progress ?? 'auto', handleSignals: true, ...(o.grids === false ? { grids: false } : {}), command: ['oodgen', ...argv.slice(2)].join(' '),
    ...(o.patience !== undefined ? { patience: o.patience === 0 ? null : o.patience } : {}),
    ...(o.minDelta !== undefined ? { minDelta: o.minDelta } : {}),
    ...speedOptions(o),
  };
  if (o.resume || o.restartFrom !== undefined) {
    const how = o.resume ? `--resume continues the run in ${o.out}` : `--restart-from continues the run of ${o.restartFrom}`;
    if (o.resume && o.restartFrom !== undefined) throw new OodgenError('--resume and --restart-from exclude each other: --resume continues the run in --out exactly; --restart-from starts a new run in --out from the weights of another (its optimizer state lost)');
    const fixed = (['model', 'decoder', 'data', 'zDim', 'width', 'imageSize', 'channels', 'sigma2', 'beta', 'batchSize', 'lr', 'seed', 'limit',
      'valFraction', 'valLimit', 'flowLevels', 'flowSteps', 'flowWidth', 'lu', 'betaKl', 'betaRec', 'betaNeg', 'gammaR', 'maxGradNorm', 'dequantize', 'mutate', 'checkpointEvery', 'logEvery'] as const)
      .filter((k) => o[k] !== undefined);
    if (fixed.length) {
      throw new OodgenError(`${how} with its own config.json; drop ${fixed.map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(', ')} (only --epochs, --max-steps, --time-budget, --patience, --min-delta, --device, --progress and the speed flags may change)`);
    }
    return o.resume ? { ...common, resume: true } : { ...common, restartFrom: o.restartFrom };
  }
  if (!o.model) throw new OodgenError(`--model is required (${modelKinds().join(', ')})`);
  if (!o.data) throw new OodgenError('--data is required (e.g. fashion-mnist:train)');
  if (o.epochs === undefined && o.maxSteps === undefined && o.timeBudget === undefined) {
    throw new OodgenError('give a training length: --epochs, --max-steps and/or --time-budget (minutes)');
  }
  const family = modelFamily(o.model);
  const decoder = o.decoder ?? family.decoders[0]!;
  if (!family.decoders.includes(decoder)) throw new OodgenError(`--model ${o.model} cannot have --decoder ${decoder} (${family.title}; decoders: ${family.decoders.join(', ')})`);
  if (o.sigma2 !== undefined && decoder !== 'gaussian') throw new OodgenError(`--sigma2 applies to the gaussian decoder only (decoder is ${decoder})`);
  // Family training hyper-parameters (--beta-kl ...) exist only for the families whose defaults name them.
  const defaults = trainDefaults(o.model, o.data);
  const hyperFlags = (Object.keys(HYPER_FLAGS) as (keyof typeof HYPER_FLAGS)[]).filter((k) => o[k] !== undefined);
  for (const k of hyperFlags) {
    if (!defaults.hyper || !(k in defaults.hyper)) {
      const owners = listModels().filter((f) => f.hyperDoc && k in f.hyperDoc).map((f) => `--model ${f.kind}: ${f.title}`);
      throw new OodgenError(`${HYPER_FLAGS[k]} is not an option of --model ${o.model}${owners.length ? ` (it is one of ${owners.join('; ')})` : ''}`);
    }
    if (!(o[k]! >= 0)) throw new OodgenError(`${HYPER_FLAGS[k]} must be >= 0`);
  }
  if (o.beta !== undefined && defaults.hyper && 'betaKl' in defaults.hyper) throw new OodgenError(`--beta is the VAE KL weight; for --model ${o.model} use --beta-kl`);

  // Dataset name and channels, without reading images.
  const spec = parseSpec(o.data);
  const colour = spec.path === undefined && COLOUR.includes(spec.name);
  const imageSize = (o.imageSize ?? 32) as 32 | 28;
  if (imageSize === 28 && colour && o.channels === undefined) {
    throw new OodgenError(`--image-size 28 with the colour dataset ${spec.name}: say --channels 3 (colour at 28x28) or --channels 1 (gray) explicitly`);
  }
  let channels = o.channels;
  if (channels === undefined) {
    if (spec.path === undefined && DATASETS[spec.name]) channels = colour ? 3 : 1;
    else if (spec.path === undefined) channels = 3; // synthetic sets
    else throw new OodgenError(`--data ${o.data} is a path: say --channels 1 or 3`);
  }
  const model: ModelConfig = {
    kind: o.model, decoder, channels, imageSize, zDim: o.zDim ?? defaults.zDim, width: o.width ?? defaults.width,
    ...(o.sigma2 !== undefined ? { sigma2: o.sigma2 as number | 'learned' } : {}),
    ...(o.beta !== undefined ? { beta: o.beta } : {}),
  };
  const flow = flowSizes(o, model).flow;
  if (flow) model.flow = flow;
  // A size the family fixes itself (glow: zDim = dim(x), width = the flow's width) cannot also be given.
  const resolved = resolveModelConfig(model);
  for (const [k, flag] of [['zDim', '--z-dim'], ['width', '--width']] as const) {
    if (o[k] !== undefined && resolved[k] !== o[k]) throw new OodgenError(`${flag} ${o[k]}: --model ${o.model} sets it to ${resolved[k]} (${family.title})`);
  }
  const problems = modelConfigProblems(model);
  if (problems.length) throw new OodgenError(problems.join('; '));
  return {
    ...common,
    model,
    data: o.data,
    limit: o.limit,
    valFraction: o.valFraction,
    valLimit: o.valLimit,
    dequantize: o.dequantize,
    ...(o.mutate !== undefined ? { mutate: o.mutate } : {}),
    batchSize: o.batchSize ?? defaults.batchSize,
    lr: o.lr ?? defaults.lr,
    seed: o.seed ?? 0,
    checkpointEvery: o.checkpointEvery,
    logEvery: o.logEvery,
    ...(defaults.hyper ? { hyper: { ...defaults.hyper, ...Object.fromEntries(hyperFlags.map((k) => [k, o[k]!])) } } : {}),
  };
}

