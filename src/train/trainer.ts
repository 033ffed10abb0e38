// The training loop of every model family: Adam, epochs / step / wall-clock budgets, validation ELBO each epoch
// with early stopping (Chen 2021, section 3.3.3), JSON-lines log, atomic checkpoints every N steps and at the end,
// exact resume, Ctrl-C that saves before exiting, and the final sample / reconstruction grids.
//
// Determinism: parameter init, data order, dequantization noise and reparameterisation noise all come from seeded
// sources whose state is saved: the init Generator (seed), the epoch order (a pure function of seed and epoch, so
// the position within the epoch is enough), and one CPU noise Generator (its state goes into state.json). Noise is
// drawn on the CPU and moved, so a CUDA run has the same stream. Same seed on CPU -> same weights; a run stopped at
// step k and resumed ends bit-identical to an uninterrupted one.
import { existsSync, mkdirSync, readFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { progress as progressBar, type Progress as ProgressBar } from '../data/progress.js';
import { Generator } from '../engine/random.js';
import { tidy } from '../engine/scope.js';
import { buildInfo, resolveDevice } from '../engine/device.js';
import type { Tensor } from '../engine/tensor.js';
import { Adam } from '../optim/adam.js';
import { loadTensors, saveStateDict, saveTensors, loadStateDict } from '../io/checkpoint.js';
import { OodgenError } from '../errors.js';
import { epochOrder } from '../data/batches.js';
import { subset, trainValSplit } from '../data/preprocess.js';
import { checkMutationRate, mutateTensor } from '../data/mutate.js';
import type { ImageSet, PreprocessingRecord } from '../data/types.js';
import { loadDataset } from '../data/registry.js';
import { createModel } from '../models/factory.js';
import type { ModelConfig } from '../models/types.js';
import type { LatentModel, ModelTrainer, TrainableModel } from '../models/types.js';
import type { LatentBase } from '../models/vae.js';
import { hasCapabilities } from '../models/capabilities.js';
import { resolveModelConfig, trainDefaults } from '../models/registry.js';
import {
  RUN_FILES, readRunConfig, readRunState, runHyper, writeFileAtomic, writeJsonAtomic, type RunConfig, type RunState,
} from './run.js';
import { batchTensor, dequantizeTensor, evaluateElbo, writeReconstructionGrid, writeSampleGrid } from './evaluate.js';
import { checkSingleResume, type DataParallel } from './ddp.js';
import { ResidentImages } from '../data/batches.js';
import { checkAutocastDtype, type AutocastDtype } from '../engine/autocast.js';
import { toMemoryFormat } from '../engine/memory-format.js';
import { Sequential } from '../nn/sequential.js';
import { GraphedStep, cudaGraphProblem } from './graphed-step.js';
import { earlyStoppingStep } from './early-stopping.js';
import { checkPoint, checkRanks, cutLog, readRestartSource, restartEpoch, type RestartSource } from './restart.js';

export interface TrainOptions {
  /** Run folder. */
  out: string;
  /** Continue the run in `out` exactly where its last checkpoint left it (model, data and hyper-parameters from its config.json). */
  resume?: boolean;
  /**
   * Continue the run whose weights are in this folder (a run folder or a zoo export) after its optimizer state was
   * lost: its config, from its latest checkpoint and training state where the folder has them (else from its best
   * weights, at their epoch's end), Adam moments reset (train/restart.ts).
   */
  restartFrom?: string;
  model?: ModelConfig;
  /** Dataset spec for loadDataset (e.g. fashion-mnist:train), unless `trainSet` is given. */
  data?: string;
  /** In-memory training images (tests); `data` is then only a label. */
  trainSet?: ImageSet;
  preprocessing?: PreprocessingRecord | null;
  limit?: number;
  /**
   * Share of the images held out for validation (default 0.1). 0: no validation at all (the training images are
   * never used as if they were held out): no validation ELBO, no early stopping, no best.safetensors.
   */
  valFraction?: number;
  valLimit?: number;
  dequantize?: boolean;
  /** Likelihood-ratio background model: mutate each training value with this probability (data/mutate.ts). */
  mutate?: number;
  batchSize?: number;
  lr?: number;
  betas?: [number, number];
  epochs?: number | null;
  maxSteps?: number | null;
  /** Minutes of training for this invocation. */
  timeBudgetMin?: number | null;
  checkpointEvery?: number;
  logEvery?: number;
  /** Epochs without a better validation ELBO before stopping; null: never stop early. */
  patience?: number | null;
  /**
   * Early stopping's minimum improvement, nats per image (default 0): an epoch whose validation ELBO beats the one
   * that last reset the patience by no more than this counts as an epoch without improvement (early-stopping.ts).
   */
  minDelta?: number;
  /**
   * Family-specific training hyper-parameters (Soft-IntroVAE: betaKl, betaRec, betaNeg, gammaR), over the family's
   * defaults (models/registry.ts trainDefaults).
   */
  hyper?: Record<string, number>;
  /** Older name of `hyper` for Soft-IntroVAE. */
  sintro?: Record<string, number>;
  seed?: number;
  device?: string;
  /** 'auto': a bar on a TTY, else a JSON line every logEvery steps; 'none' for tests. */
  progress?: 'auto' | 'bar' | 'json' | 'none';
  /** Install a SIGINT/SIGTERM handler that saves a checkpoint and stops (the CLI sets this). */
  handleSignals?: boolean;
  signal?: AbortSignal;
  /** Write samples.png / reconstructions.png at the end (default true). */
  grids?: boolean;
  /** Prior samples for the decoder BN adaptation of samples.png (0: none). */
  bnAdaptSamples?: number;
  command?: string;
  /** Data-parallel rank context (src/train/ddp.ts); null/absent: one process. */
  ddp?: DataParallel | null;
  /**
   * Keep the training set on the device and gather batches there (data/batches.ts ResidentImages). Default: on
   * for a device other than the CPU. Same batches, bit for bit, as the host path.
   */
  residentData?: boolean;
  /** Conv weights and batches in channels_last memory format (faster convolutions on recent GPUs). */
  channelsLast?: boolean;
  /** Mixed precision of the forward passes: bf16 (CPU or CUDA) or fp16 (CUDA); loss and Adam stay float32. */
  autocast?: 'bf16' | 'fp16' | null;
  /** Capture the training step in a CUDA graph and replay it (train/graphed-step.ts); CUDA only. */
  cudaGraph?: boolean;
}

type Speed = NonNullable<RunConfig['training']['speed']>;

/** The speed options of this invocation over the run's recorded ones (a resumed run keeps its own unless given). */
function resolveSpeed(o: TrainOptions, recorded: Speed | undefined, device: string): Speed {
  return {
    residentData: o.residentData ?? device !== 'cpu',
    channelsLast: o.channelsLast ?? recorded?.channelsLast ?? false,
    autocast: o.autocast !== undefined ? o.autocast : recorded?.autocast ?? null,
    cudaGraph: o.cudaGraph ?? recorded?.cudaGraph ?? false,
  };
}

/** Switches autocast on for the forward passes of a model's encoder and decoder nets. */
function setAutocast(model: TrainableModel, dtype: AutocastDtype): void {
  const m = model as unknown as { encoder?: unknown; decoder?: unknown };
  const nets = [m.encoder, m.decoder];
  if (!nets.every((n) => n instanceof Sequential)) {
    throw new OodgenError(`train: --autocast needs a model with encoder and decoder nets (ae, vae, sintro); '${(model as { config?: { kind?: string } }).config?.kind ?? 'this model'}' has none`);
  }
  for (const n of nets as Sequential[]) n.autocast = dtype;
}

export interface TrainResult {
  out: string;
  step: number;
  epoch: number;
  stopReason: string;
  bestVal: number | null;
  lastVal: number | null;
  elapsedMs: number;
  config: RunConfig;
}

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

type Optimizers = ModelTrainer['optimizers'];

function saveOptimizers(path: string, opts: Optimizers, step: number): void {
  const tensors = new Map<string, Tensor>();
  const meta: Record<string, unknown> = {};
  for (const [name, opt] of Object.entries(opts)) {
    const s = opt.stateDict();
    for (const [k, t] of s.tensors) tensors.set(`${name}.${k}`, t);
    meta[name] = s.meta;
  }
  saveTensors(path, tensors, { optimizers: JSON.stringify(meta), step: String(step) });
}

function loadOptimizers(path: string, opts: Optimizers): void {
  if (!existsSync(path)) throw new OodgenError(`${path}: missing (optimizer state); cannot resume exactly`);
  const { tensors, metadata } = loadTensors(path);
  try {
    const meta = JSON.parse(metadata.optimizers ?? '{}') as Record<string, Record<string, number | string | boolean>>;
    for (const [name, opt] of Object.entries(opts)) {
      if (!meta[name]) throw new Error(`no state for optimizer '${name}'`);
      const mine = new Map<string, Tensor>();
      for (const [k, t] of tensors) if (k.startsWith(`${name}.`)) mine.set(k.slice(name.length + 1), t);
      opt.loadStateDict({ tensors: mine, meta: meta[name] });
    }
  } catch (e) {
    throw new OodgenError(`${path}: ${(e as Error).message}`);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** Loads the training images and splits off validation (none when valFraction is 0). */
async function prepareData(cfg: RunConfig, opts: TrainOptions): Promise<{ train: ImageSet; val: ImageSet | null; preprocessing: PreprocessingRecord | null }> {
  let set: ImageSet;
  let preprocessing: PreprocessingRecord | null = null;
  if (opts.trainSet) {
    set = opts.trainSet;
    preprocessing = opts.preprocessing ?? null;
  } else {
    const r = await loadDataset(cfg.data.train, { imageSize: cfg.data.imageSize, channels: cfg.data.channels as 1 | 3, limit: cfg.data.limit });
    set = r.set;
    preprocessing = r.preprocessing;
  }
  const [n, c, h, w] = set.shape;
  if (c !== cfg.model.channels || h !== cfg.model.imageSize || w !== cfg.model.imageSize) {
    throw new OodgenError(`training images are ${c}x${h}x${w}, the model expects ${cfg.model.channels}x${cfg.model.imageSize}x${cfg.model.imageSize}`);
  }
  if (cfg.data.valFraction === 0) return { train: set, val: null, preprocessing };
  const split = trainValSplit(n, cfg.data.valFraction, cfg.seed);
  return { train: subset(set, split.train), val: subset(set, split.val), preprocessing };
}

function buildConfig(o: TrainOptions, device: string): RunConfig {
  if (!o.model) throw new OodgenError('train: a model config is required for a new run');
  const info = buildInfo();
  if (o.valFraction === 0 && o.patience !== undefined && o.patience !== null) {
    throw new OodgenError(`train: patience ${o.patience} needs validation images, but valFraction 0 holds none out (no validation, no early stopping): give a valFraction > 0 or drop the patience`);
  }
  const dequantize = o.dequantize ?? o.model.decoder === 'gaussian';
  // The family's defaults for this dataset: the same table `oodgen train` uses (models/registry.ts).
  const defaults = trainDefaults(o.model.kind, o.data ?? o.trainSet?.name ?? '');
  const given = o.hyper ?? o.sintro;
  if (given && !defaults.hyper) throw new OodgenError(`train: model '${o.model.kind}' takes no training hyper-parameters (got ${Object.keys(given).join(', ')})`);
  const unknown = given && defaults.hyper ? Object.keys(given).filter((k) => !(k in defaults.hyper!)) : [];
  if (unknown.length) throw new OodgenError(`train: unknown hyper-parameter ${unknown.join(', ')} for model '${o.model.kind}' (${Object.keys(defaults.hyper!).join(', ')})`);
  return {
    format: 'oodgen-run/1',
    model: resolveModelConfig(o.model),
    data: {
      train: o.data ?? o.trainSet?.name ?? 'in-memory',
      valFraction: o.valFraction ?? 0.1,
      valLimit: o.valLimit ?? 2000,
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
      imageSize: o.model.imageSize,
      channels: o.model.channels,
      dequantize,
      ...(o.mutate ? { mutate: checkMutationRate(o.mutate) } : {}),
      preprocessing: null,
      trainCount: 0,
      valCount: 0,
    },
    training: {
      batchSize: o.batchSize ?? defaults.batchSize,
      lr: o.lr ?? defaults.lr,
      betas: o.betas ?? [0.9, 0.999],
      epochs: o.epochs ?? null,
      maxSteps: o.maxSteps ?? null,
      timeBudgetMin: o.timeBudgetMin ?? null,
      checkpointEvery: o.checkpointEvery ?? 500,
      logEvery: o.logEvery ?? 50,
      // No validation set (valFraction 0): nothing to stop early on.
      patience: o.valFraction === 0 ? null : o.patience === undefined ? 5 : o.patience,
      ...(o.minDelta ? { minDelta: o.minDelta } : {}),
      hyper: defaults.hyper ? { ...defaults.hyper, ...given } : null,
    },
    seed: o.seed ?? 0,
    device,
    engine: { torch: info.torchVersion, oodgen: '0.1.0', cudaBuild: info.cudaBuild },
    ...(o.command ? { command: o.command } : {}),
    createdAt: new Date().toISOString(),
  };
}

/** Training progress: the shared bar (data/progress.ts) with epoch, loss and ETA, or a JSON line every N steps. */
class Progress {
  private bar: ProgressBar | null = null;
  private lastJson = 0;
  constructor(private readonly mode: 'bar' | 'json' | 'none', private readonly total: number, start: number, private readonly every: number) {
    if (mode === 'bar') {
      this.bar = progressBar('train', total, {
        force: true, start, fps: 5, fields: { epoch: 0, loss: '-', ms: '-', eta2: '-' },
        format: 'train |{bar}| {value}/{total} steps | ep {epoch} | loss {loss} | {ms} ms/step | ETA {eta2}',
      });
    }
  }
  update(step: number, epoch: number, loss: number, msPerStep: number, etaS: number): void {
    const eta = Number.isFinite(etaS) ? `${Math.floor(etaS / 60)}m${String(Math.round(etaS % 60)).padStart(2, '0')}s` : '?';
    if (this.bar) this.bar.update(step, { epoch, loss: loss.toFixed(4), ms: msPerStep.toFixed(0), eta2: eta });
    else if (this.mode === 'json' && step - this.lastJson >= this.every) {
      this.lastJson = step;
      process.stderr.write(JSON.stringify({ progress: { step, total: this.total >= 1e6 ? null : this.total, epoch, loss, msPerStep: +msPerStep.toFixed(1), eta } }) + '\n');
    }
  }
  stop(): void {
    this.bar?.stop();
  }
}

/** Trains (or resumes) a run; see TrainOptions. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const out = opts.out;
  let cfg: RunConfig;
  let state: RunState | null = null;
  let restart: RestartSource | null = null;
  if (opts.resume && opts.restartFrom) throw new OodgenError('train: --resume and --restart-from exclude each other (resume continues the run in --out; restart starts a new one from another folder\'s weights)');
  if (opts.restartFrom && existsSync(join(out, RUN_FILES.state))) {
    throw new OodgenError(`${out} already holds a run (state.json); --restart-from writes a new run: choose another --out`);
  }
  if (opts.resume || opts.restartFrom) {
    if (opts.restartFrom) {
      restart = readRestartSource(opts.restartFrom);
      cfg = structuredClone(restart.config);
      cfg.createdAt = new Date().toISOString();
      if (opts.command) cfg.command = opts.command;
      else delete cfg.command;
    } else {
      cfg = readRunConfig(out);
      state = readRunState(out);
    }
    // Stop conditions may be changed on resume; everything else comes from the run.
    if (opts.epochs !== undefined) cfg.training.epochs = opts.epochs;
    if (opts.maxSteps !== undefined) cfg.training.maxSteps = opts.maxSteps;
    if (opts.timeBudgetMin !== undefined) cfg.training.timeBudgetMin = opts.timeBudgetMin;
    if (opts.patience !== undefined && opts.patience !== null && cfg.data.valFraction === 0) {
      throw new OodgenError(`train: patience ${opts.patience} needs validation images, but run ${out} has valFraction 0 (no validation, no early stopping)`);
    }
    if (opts.patience !== undefined) cfg.training.patience = opts.patience;
    if (opts.minDelta !== undefined) cfg.training.minDelta = opts.minDelta;
  } else {
    if (existsSync(join(out, RUN_FILES.state))) {
      throw new OodgenError(`${out} already holds a run (state.json); pass --resume to continue it or choose another --out`);
    }
    cfg = buildConfig(opts, opts.device ?? 'cpu');
  }
  let device: string;
  try {
    device = resolveDevice(opts.device ?? cfg.device);
  } catch (e) {
    throw new OodgenError((e as Error).message);
  }
  cfg.device = device;
  const t = cfg.training;
  const speed = resolveSpeed(opts, t.speed, device);
  t.speed = speed;
  const acDtype: AutocastDtype | null = speed.autocast === null ? null : speed.autocast === 'bf16' ? 'bfloat16' : 'float16';
  if (acDtype) {
    try { checkAutocastDtype(device, acDtype); } catch (e) { throw new OodgenError(`train: --autocast ${speed.autocast}: ${(e as Error).message}`); }
  }
  if (t.epochs === null && t.maxSteps === null && t.timeBudgetMin === null) {
    throw new OodgenError('train: give at least one of epochs, maxSteps or timeBudgetMin');
  }

  const ddp = opts.ddp ?? null, lead = !ddp || ddp.lead;
  const data = await prepareData(cfg, opts);
  cfg.data.preprocessing = data.preprocessing ?? cfg.data.preprocessing;
  cfg.data.trainCount = data.train.shape[0];
  cfg.data.valCount = data.val?.shape[0] ?? 0;
  const stepsPerEpoch = ddp ? ddp.stepsPerEpoch(data.train.shape[0], t.batchSize) : Math.floor(data.train.shape[0] / t.batchSize);
  if (stepsPerEpoch < 1) throw new OodgenError(`batch size ${t.batchSize} exceeds the ${data.train.shape[0]} training images`);

  mkdirSync(out, { recursive: true });
  const initGen = Generator.cpu(cfg.seed);
  const model = createModel<TrainableModel>(cfg.model, { generator: initGen, device });
  model.train();
  if (speed.channelsLast) (model as unknown as { toMemoryFormat(f: 'channels_last'): void }).toMemoryFormat('channels_last');
  if (acDtype) setAutocast(model, acDtype);
  const trainer = model.createTrainer({ lr: t.lr, betas: t.betas as [number, number], hyper: runHyper(cfg), capturable: speed.cudaGraph });
  if (speed.cudaGraph) {
    const problem = cudaGraphProblem({ device, nproc: ddp?.worldSize ?? 1, mutate: cfg.data.mutate ?? null, hasStepTensors: !!trainer.stepTensors });
    if (problem) {
      trainer.dispose();
      model.dispose();
      throw new OodgenError(`train: ${problem}`);
    }
  }
  const optims = trainer.optimizers;
  const noise = Generator.cpu(ddp ? ddp.noiseSeed(cfg.seed + 1) : cfg.seed + 1);
  const trainIdx = Int32Array.from({ length: data.train.shape[0] }, (_, i) => i);

  try {
    if (restart) state = restartState(restart, model, cfg, data.val, stepsPerEpoch, ddp?.worldSize ?? 1, out, lead);
    else if (state) resumeState(state, model, optims, noise, ddp, out, lead);
  } catch (e) {
    // A refused restart or resume (another run's weights, a rank count that does not match) frees what it made.
    trainer.dispose();
    model.dispose();
    throw e;
  }
  if (!state) {
    state = {
      format: 'oodgen-state/1', step: 0, epoch: 0, batchInEpoch: 0, bestVal: null, bestStep: null, epochsSinceBest: 0,
      rng: {}, elapsedMs: 0, stopReason: null, done: false,
    };
  }
  ddp?.wrap(model, optims);
  if (lead) writeJsonAtomic(join(out, RUN_FILES.config), cfg);
  const st = state;

  const log = (o: Record<string, unknown>): void => void (lead && appendFileSync(join(out, RUN_FILES.log), JSON.stringify(o) + '\n'));
  const checkpoint = (): void => {
    st.rng = ddp ? ddp.rngState(noise) : { noise: b64(noise.getState()) };
    if (!lead) return;
    saveStateDict(join(out, RUN_FILES.model), model, { step: String(st.step), kind: cfg.model.kind });
    saveOptimizers(join(out, RUN_FILES.optimizer), optims, st.step);
    writeJsonAtomic(join(out, RUN_FILES.state), st);
  };

  let interrupted: string | null = null;
  const onSignal = (sig: NodeJS.Signals): void => { interrupted = sig; };
  if (opts.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const onAbort = (): void => { interrupted = 'abort'; };
  opts.signal?.addEventListener('abort', onAbort);

  const totalSteps = Math.min(
    t.maxSteps ?? Infinity,
    t.epochs !== null ? t.epochs * stepsPerEpoch : Infinity,
  );
  const mode = opts.progress === undefined || opts.progress === 'auto'
    ? (process.stderr.isTTY ? 'bar' : 'json') : opts.progress;
  // Preprocessing inside the step: mutation, dequantization (noise from `g`), layout.
  const prepare = (x0: Tensor, g: Generator): Tensor => {
    let x = x0;
    if (cfg.data.mutate) x = mutateTensor(x, cfg.data.mutate, g);
    if (cfg.data.dequantize) x = dequantizeTensor(x, g);
    if (speed.channelsLast) x = toMemoryFormat(x, 'channels_last');
    return x;
  };
  const resident = speed.residentData ? new ResidentImages(data.train, device) : null;
  const graphed = speed.cudaGraph
    ? new GraphedStep(trainer, [t.batchSize, cfg.model.channels, cfg.model.imageSize, cfg.model.imageSize], device, cfg.seed + 1, prepare)
    : null;
  const progress = new Progress(lead ? mode : 'none', Number.isFinite(totalSteps) ? totalSteps : st.step + 1e6, st.step, t.logEvery);
  const t0 = Date.now();
  const elapsed0 = st.elapsedMs;
  const budgetMs = t.timeBudgetMin !== null ? t.timeBudgetMin * 60_000 : Infinity;
  let lastVal: number | null = null;
  let order: Int32Array | null = null;
  let orderEpoch = -1;
  let emaMs = 0;
  let stopReason = 'done';
  let lastLoss = NaN;
  let stepsThisCall = 0;

  try {
    for (;;) {
      if (t.maxSteps !== null && st.step >= t.maxSteps) { stopReason = 'max-steps'; break; }
      if (t.epochs !== null && st.epoch >= t.epochs) { stopReason = 'epochs'; break; }
      if (!ddp && Date.now() - t0 >= budgetMs) { stopReason = 'time-budget'; break; }
      if (st.done && st.stopReason === 'early-stopping') { stopReason = 'early-stopping'; break; }
      const agreed = ddp?.agreeStop(Date.now() - t0 >= budgetMs, interrupted);
      if (agreed) { stopReason = agreed; break; }
      if (interrupted) { stopReason = `interrupted (${interrupted})`; break; }

      if (orderEpoch !== st.epoch) {
        order = epochOrder(trainIdx, true, cfg.seed, st.epoch);
        orderEpoch = st.epoch;
      }
      const index = ddp ? ddp.batchIndex(order!, st.batchInEpoch, t.batchSize) : order!.subarray(st.batchInEpoch * t.batchSize, (st.batchInEpoch + 1) * t.batchSize);
      const ts = Date.now();
      const terms = tidy(() => {
        const raw = resident ? resident.batch(index) : batchTensor(data.train, index, device);
        if (graphed) return graphed.step(raw) as Record<string, number>;
        return trainer.step(prepare(raw, noise), noise) as Record<string, number>;
      });
      const ms = Date.now() - ts;
      emaMs = stepsThisCall === 0 ? ms : 0.95 * emaMs + 0.05 * ms;
      stepsThisCall++;
      lastLoss = terms.loss;
      if (!Number.isFinite(terms.loss)) {
        stopReason = 'non-finite loss';
        log({ step: st.step + 1, epoch: st.epoch, event: 'non-finite-loss', ...terms });
        throw new OodgenError(`training diverged at step ${st.step + 1}: loss ${terms.loss}; the last checkpoint (step ${readRunStateSafe(out)}) is kept`);
      }
      st.step += 1;
      st.batchInEpoch += 1;
      if (st.step % t.logEvery === 0 || st.step === 1) log({ step: st.step, epoch: st.epoch, ...terms, lr: t.lr, msPerStep: ms });
      const remainingSteps = totalSteps - st.step;
      const etaS = Math.min(remainingSteps * emaMs / 1000, (budgetMs - (Date.now() - t0)) / 1000);
      progress.update(st.step, st.epoch, terms.loss, emaMs, etaS);

      if (st.batchInEpoch >= stepsPerEpoch) {
        // End of epoch: validation ELBO, early stopping (none without validation images).
        st.epoch += 1;
        st.batchInEpoch = 0;
        if (data.val === null) {
          log({ step: st.step, epoch: st.epoch, event: 'epoch', validation: 'none (valFraction 0)', elapsedS: (elapsed0 + Date.now() - t0) / 1000 });
        } else {
          const v = evaluateElbo(model, data.val, { limit: cfg.data.valLimit, seed: cfg.seed + 7, dequantize: cfg.data.dequantize, batchSize: 256 });
          lastVal = v.elbo;
          const es = earlyStoppingStep(st, v.elbo, t.patience, t.minDelta ?? 0);
          if (es.improved) {
            st.bestStep = st.step;
            if (lead) saveStateDict(join(out, RUN_FILES.best), model, { step: String(st.step), valElbo: String(v.elbo) });
          }
          log({ step: st.step, epoch: st.epoch, event: 'epoch', valElbo: v.elbo, valBitsPerDim: v.bitsPerDim, valLogLik: v.logLik, valKl: v.kl, best: es.improved, ...(t.minDelta ? { significant: es.significant } : {}), epochsSinceBest: st.epochsSinceBest, elapsedS: (elapsed0 + Date.now() - t0) / 1000 });
          if (es.stop) {
            st.done = true;
            st.stopReason = 'early-stopping';
          }
        }
      }
      // A checkpoint at every epoch's end too (batchInEpoch just wrapped to 0), so that a copy of the run taken after
      // an epoch line (scripts/zoo-train.sh's exports) holds that epoch's end, not a state up to checkpointEvery
      // steps older that a restart would have to redo.
      if (st.step % t.checkpointEvery === 0 || st.batchInEpoch === 0) {
        st.elapsedMs = elapsed0 + Date.now() - t0;
        checkpoint();
      }
      if (opts.handleSignals || opts.signal) await new Promise((r) => setImmediate(r));
    }
  } finally {
    resident?.dispose();
    graphed?.dispose();
    progress.stop();
    if (opts.handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    opts.signal?.removeEventListener('abort', onAbort);
  }

  if (data.val !== null && !stopReason.startsWith('interrupted') && stepsThisCall > 0 && (lastVal === null || st.batchInEpoch !== 0)) {
    // The run stopped inside an epoch: report the validation ELBO of the final weights too (log only; the
    // early-stopping state is untouched, so a resumed run behaves exactly like an uninterrupted one).
    const v = evaluateElbo(model, data.val, { limit: cfg.data.valLimit, seed: cfg.seed + 7, dequantize: cfg.data.dequantize, batchSize: 256 });
    lastVal = v.elbo;
    log({ step: st.step, epoch: st.epoch, event: 'final-val', valElbo: v.elbo, valBitsPerDim: v.bitsPerDim, valLogLik: v.logLik, valKl: v.kl });
    if (lead && !existsSync(join(out, RUN_FILES.best))) saveStateDict(join(out, RUN_FILES.best), model, { step: String(st.step), valElbo: String(v.elbo) });
  }
  st.elapsedMs = elapsed0 + Date.now() - t0;
  st.stopReason = stopReason;
  if (!stopReason.startsWith('interrupted')) st.done = stopReason !== 'time-budget' ? true : st.done;
  checkpoint();
  log({ step: st.step, epoch: st.epoch, event: 'stop', reason: stopReason, loss: lastLoss, elapsedS: st.elapsedMs / 1000 });
  if ((opts.grids ?? true) && lead && !stopReason.startsWith('interrupted')) {
    // Grids for the models that can draw them (a flow has no reconstructions).
    if (hasCapabilities(model, ['sample'])) await writeSampleGrid(model as LatentModel & LatentBase, join(out, RUN_FILES.samples), { n: 64, seed: cfg.seed, bnAdapt: opts.bnAdaptSamples ?? 2048 });
    if (hasCapabilities(model, ['encode', 'decode'])) await writeReconstructionGrid(model as LatentModel & LatentBase, data.val ?? data.train, join(out, RUN_FILES.reconstructions), { n: 32 });
  }
  trainer.dispose();
  model.dispose();
  return { out, step: st.step, epoch: st.epoch, stopReason, bestVal: st.bestVal, lastVal, elapsedMs: st.elapsedMs, config: cfg };
}

/**
 * A restarted run's first state (train/restart.ts): the source's weights loaded into `model`, at the step they were
 * saved; with the source's training state, its position in the epoch and its early-stopping state (its best weights
 * copied to best.safetensors); without, the epoch's end and the early-stopping state from their validation ELBO
 * measured again. Writes the source's log up to that step and a `restart` event into `out`; records cfg.restartedFrom.
 */
function restartState(src: RestartSource, model: TrainableModel, cfg: RunConfig, val: ImageSet | null, stepsPerEpoch: number, worldSize: number, out: string, lead: boolean): RunState {
  let meta: Record<string, string>;
  try {
    meta = loadStateDict(src.weights, model).metadata;
  } catch (e) {
    const msg = (e as Error).message;
    throw new OodgenError(msg.includes(src.weights) ? msg : `${src.weights}: ${msg}`);
  }
  const step = meta.step === undefined ? NaN : Number(meta.step);
  if (!Number.isInteger(step) || step < 0) throw new OodgenError(`${src.weights}: its metadata holds no training step; cannot tell where to restart`);
  cutLog(src, step);
  checkRanks(src, worldSize, stepsPerEpoch, cfg.training.batchSize);
  const point = src.point ? checkPoint(src, step, stepsPerEpoch) : null;
  const epoch = point ? point.epoch : restartEpoch(src.weights, step, stepsPerEpoch);
  // Without the source's early-stopping state, the loaded weights' validation ELBO starts it.
  const v = !point && val ? evaluateElbo(model, val, { limit: cfg.data.valLimit, seed: cfg.seed + 7, dequantize: cfg.data.dequantize, batchSize: 256 }) : null;
  const recorded = meta.valElbo === undefined ? null : Number(meta.valElbo);
  cfg.restartedFrom = {
    dir: src.dir, weights: src.weights, sha256: src.sha256, step, epoch,
    ...(src.config.command ? { command: src.config.command } : {}),
    note: 'optimizer state lost: Adam moments and the noise generator start again; not bit-identical to the source run',
  };
  if (lead) {
    const event = {
      step, epoch, event: 'restart', from: src.dir, weights: src.weights, sha256: src.sha256,
      // The command of the run segment that ends here (the log keeps every segment's, so an export can list them all).
      ...(src.config.command ? { sourceCommand: src.config.command } : {}),
      ...(point ? { batchInEpoch: point.batchInEpoch, bestVal: point.bestVal, bestStep: point.bestStep, epochsSinceBest: point.epochsSinceBest } : {}),
      ...(v ? { valElbo: v.elbo, valBitsPerDim: v.bitsPerDim, recordedValElbo: recorded } : {}),
      note: cfg.restartedFrom.note,
    };
    writeFileAtomic(join(out, RUN_FILES.log), [...src.logLines, JSON.stringify(event)].map((l) => l + '\n').join(''));
    // The best weights so far, byte for byte (so a content hash, e.g. the benchmark's cache key, stays the same):
    // the source's best file, or, without a training state, the loaded weights themselves.
    if (point ? src.best : v) writeFileAtomic(join(out, RUN_FILES.best), readFileSync(point ? src.best! : src.weights));
  }
  if (point) {
    return {
      format: 'oodgen-state/1', step, epoch: point.epoch, batchInEpoch: point.batchInEpoch,
      bestVal: point.bestVal, bestStep: point.bestStep, patienceRef: point.patienceRef === undefined ? point.bestVal : point.patienceRef,
      epochsSinceBest: point.epochsSinceBest, rng: {}, elapsedMs: point.elapsedMs, stopReason: null, done: false,
    };
  }
  return {
    format: 'oodgen-state/1', step, epoch, batchInEpoch: 0,
    bestVal: v?.elbo ?? null, bestStep: v ? step : null, patienceRef: v?.elbo ?? null, epochsSinceBest: 0,
    rng: {}, elapsedMs: src.elapsedMs, stopReason: null, done: false,
  };
}

/** A resumed run's state restored into `model`, its optimizers and noise generator; the log cut back to its checkpoint. */
function resumeState(state: RunState, model: TrainableModel, optims: Parameters<typeof loadOptimizers>[1], noise: Generator, ddp: DataParallel | null, out: string, lead: boolean): void {
  loadStateDict(join(out, RUN_FILES.model), model);
  loadOptimizers(join(out, RUN_FILES.optimizer), optims);
  if (ddp) ddp.restoreNoise(state.rng, noise, out);
  else {
    checkSingleResume(state.rng, out);
    if (state.rng.noise) noise.setState(unb64(state.rng.noise));
  }
  // Drop log lines written after the checkpoint (they will be written again).
  const logPath = join(out, RUN_FILES.log);
  if (existsSync(logPath)) {
    const lines = readFileSync(logPath, 'utf8').split('\n').filter((l) => {
      if (!l.trim()) return false;
      try { return ((JSON.parse(l) as { step?: number }).step ?? 0) <= state.step; } catch { return false; }
    });
    if (lead) writeFileAtomic(logPath, lines.map((l) => l + '\n').join(''));
  }
}

function readRunStateSafe(dir: string): string {
  try { return String(readRunState(dir).step); } catch { return 'none'; }
}
