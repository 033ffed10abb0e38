// Typicality (Nalisnick, Matsukawa, Teh & Lakshminarayanan 2019, "Detecting Out-of-Distribution Inputs to Deep
// Generative Models Using Typicality", arXiv:1906.02994, eq. 4-6). A high-dimensional model's samples do not sit
// at its mode but in the typical set, where -log p(x) is close to the entropy H[p]; an input far more likely than
// typical (a constant image under a model of clothes) is as suspicious as one far less likely.
//
//   H^ = mean_{x in ID held-out} -log p(x)                (the entropy estimate, nats)
//   per sample:  s(x) = | -log p(x) - H^ |                  (the M = 1 case; higher = more OoD)
//   batch test:  s(x_1..x_M) = | mean_m -log p(x_m) - H^ |,  OoD when s > eps_alpha,
//     eps_alpha = the (1 - alpha) quantile of s over K bootstrap batches of M images drawn with replacement from
//     ID validation data (Algorithm 1 of the paper).
// The batch form is a batch detector: its score belongs to the M images together, so it needs M images of one
// source and is not a per-request gate. -log p is exact for a flow (Glow, where the paper reports it) and the IWAE
// estimate (K importance samples) for a VAE.
// Fitting splits the ID held-out log-likelihoods in two (even / odd positions): H^ from one half, the bootstrap
// from the other, as the paper uses separate training and validation sets.
import { OodgenError } from '../errors.js';
import { Rng } from '../data/rng.js';
import type { Tensor } from '../engine/index.js';
import type { GenerativeModel } from '../models/types.js';
import type { Detector, DetectorSpec, DetectorState, FitContext, ImageSource, ScoreBatch } from './types.js';
import { Noise } from './latent.js';
import { collectColumns } from './collect.js';
import { f64, intOption, likelihoodEstimator, likelihoodModel, logLikColumn, notFitted, numOption, stateArray } from './fitted.js';

export interface TypicalityState {
  /** H^, mean negative log-likelihood of the ID half used for the entropy, nats. */
  entropy: number;
  /** Batch size M of the batch test and its threshold eps_alpha at level alpha. */
  m: number;
  alpha: number;
  epsilon: number;
  bootstrap: number;
  seed: number;
  nEntropy: number;
  nBootstrap: number;
}

export interface TypicalityFitOptions {
  /** Images per tested batch M (default 2, the paper's smallest; 1 reduces to the per-sample score). */
  m?: number;
  /** Level alpha of the test (default 0.01, the paper's 99% quantile). */
  alpha?: number;
  /** Bootstrap batches K (default 10,000: enough for a 1% quantile). */
  bootstrap?: number;
  seed?: number;
}

/** Fits H^ and eps_alpha from ID held-out log-likelihoods (nats; higher = more likely). */
export function fitTypicality(idLogLik: ArrayLike<number>, o: TypicalityFitOptions = {}): TypicalityState {
  const m = o.m ?? 2, alpha = o.alpha ?? 0.01, K = o.bootstrap ?? 10_000, seed = o.seed ?? 0;
  if (!Number.isInteger(m) || m < 1) throw new OodgenError(`typicality: batch size M must be a positive integer, got ${m}`);
  if (!(alpha > 0 && alpha < 1)) throw new OodgenError(`typicality: alpha must be in (0, 1), got ${alpha}`);
  if (!Number.isInteger(K) || K < 10) throw new OodgenError(`typicality: bootstrap batches must be an integer >= 10, got ${K}`);
  if (idLogLik.length < 4) throw new OodgenError(`typicality: needs at least 4 ID log-likelihoods to fit, got ${idLogLik.length}`);
  const a: number[] = [], b: number[] = [];
  for (let i = 0; i < idLogLik.length; i++) {
    const v = idLogLik[i]!;
    if (!Number.isFinite(v)) throw new OodgenError(`typicality: ID log-likelihood ${i} is ${v}`);
    (i % 2 === 0 ? a : b).push(-v);
  }
  const entropy = a.reduce((s, v) => s + v, 0) / a.length;
  const rng = new Rng(seed);
  const stats = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += b[rng.int(b.length)]!;
    stats[k] = Math.abs(s / m - entropy);
  }
  stats.sort();
  // The smallest value with at least (1 - alpha) of the bootstrap statistics at or below it.
  const epsilon = stats[Math.min(K - 1, Math.ceil((1 - alpha) * K) - 1)]!;
  return { entropy, m, alpha, epsilon, bootstrap: K, seed, nEntropy: a.length, nBootstrap: b.length };
}

/** Per-sample score |-log p(x) - H^|. */
export function typicalityScore(logLik: ArrayLike<number>, s: Pick<TypicalityState, 'entropy'>): Float32Array {
  const out = new Float32Array(logLik.length);
  for (let i = 0; i < logLik.length; i++) out[i] = Math.abs(-logLik[i]! - s.entropy);
  return out;
}

/** The batch test on M images together: the statistic, the threshold and the decision. */
export function typicalityBatchTest(logLik: ArrayLike<number>, s: TypicalityState): { statistic: number; epsilon: number; ood: boolean } {
  if (logLik.length !== s.m) throw new OodgenError(`typicality batch test: fitted for batches of M = ${s.m} images, got ${logLik.length}`);
  let sum = 0;
  for (let i = 0; i < logLik.length; i++) sum -= logLik[i]!;
  const statistic = Math.abs(sum / s.m - s.entropy);
  return { statistic, epsilon: s.epsilon, ood: statistic > s.epsilon };
}

/**
 * Batch scores of a whole set: consecutive groups of M images (a short tail is dropped), each group's statistic
 * repeated for its M images so it lines up with per-image tables.
 */
export function typicalityBatchScores(logLik: ArrayLike<number>, s: TypicalityState): Float32Array {
  const out = new Float32Array(logLik.length).fill(NaN);
  for (let g = 0; g + s.m <= logLik.length; g += s.m) {
    const t = typicalityBatchTest(Array.prototype.slice.call(logLik, g, g + s.m) as number[], s);
    for (let i = 0; i < s.m; i++) out[g + i] = t.statistic;
  }
  return out;
}

// ---- Detectors (registered in builtin.ts) ----

const NEEDS = ['likelihood'] as const;

/** Shared by both forms: fit = the IWAE log-likelihoods of ID held-out images, kept (the bootstrap needs them). */
abstract class TypicalityBase implements Detector {
  abstract readonly name: string;
  abstract readonly description: string;
  protected idLogLik: Float64Array | null = null;
  protected state: TypicalityState | null = null;
  protected readonly noise: Noise;
  protected meta: Record<string, unknown> = {};
  readonly k: number;
  readonly alpha: number;
  readonly bootstrap: number;
  readonly seed: number;
  constructor(readonly model: GenerativeModel, o: Record<string, unknown>) {
    this.k = intOption(o.k, 50, 'typicality: K');
    this.alpha = numOption(o.alpha, 0.01, 'typicality: alpha', (a) => a > 0 && a < 1);
    this.bootstrap = intOption(o.bootstrap, 10_000, 'typicality: bootstrap batches', 10);
    this.seed = intOption(o.seed, 0, 'typicality: seed', 0);
    this.noise = new Noise(this.seed);
  }
  get fitted(): boolean { return this.state !== null; }
  protected loglik(x: Tensor): Float32Array { return logLikColumn(this.model, x, this.k, this.noise); }
  /** The state for batches of m images (the threshold depends on m; refitted from the kept log-likelihoods). */
  protected stateFor(m: number): TypicalityState {
    if (!this.idLogLik) throw notFitted(this.name);
    if (this.state?.m !== m) this.state = fitTypicality(this.idLogLik, { m, alpha: this.alpha, bootstrap: this.bootstrap, seed: this.seed });
    return this.state;
  }
  async fit(id: ImageSource, ctx: FitContext = {}): Promise<void> {
    const cols = await collectColumns(this.model, id, (x) => ({ loglik: this.loglik(x) }), { batchSize: ctx.batchSize, signal: ctx.signal });
    this.idLogLik = Float64Array.from(cols.loglik!);
    this.state = null;
    const s = this.stateFor(1);
    this.meta = { n: id.shape[0], entropy: s.entropy, k: this.k, data: ctx.data ?? id.name ?? 'in-distribution images' };
  }
  saveState(): DetectorState {
    if (!this.idLogLik) throw notFitted(this.name);
    return { meta: this.meta, arrays: { id_loglik: f64(this.idLogLik) } };
  }
  loadState(s: DetectorState): void {
    if (s.meta.k !== this.k) throw new OodgenError(`state was fitted with IWAE K = ${String(s.meta.k)}, this detector uses K = ${this.k}`);
    this.idLogLik = stateArray(s, 'id_loglik');
    this.state = null;
    this.meta = s.meta;
    this.stateFor(1);
  }
  abstract evaluate(x: Tensor): ScoreBatch;
  score(x: Tensor): Float32Array { return this.evaluate(x).score; }
  settings(): Record<string, unknown> { return { estimator: likelihoodEstimator(this.model), k: this.k, seed: this.seed, alpha: this.alpha, bootstrap: this.bootstrap }; }
}

export class TypicalityDetector extends TypicalityBase {
  readonly name = 'typicality';
  readonly description = '|-log p(x) - H|, H the mean ID held-out NLL (exact, or IWAE), per sample (Nalisnick et al. 2019, M = 1)';
  evaluate(x: Tensor): ScoreBatch {
    const s = this.stateFor(1);
    const loglik = this.loglik(x);
    return { score: typicalityScore(loglik, s), columns: { typicality: typicalityScore(loglik, s), loglik } };
  }
}

export class TypicalityBatchDetector extends TypicalityBase {
  readonly name = 'typicality-batch';
  readonly description = 'typicality test on a batch of M images: |mean NLL - H| against a bootstrap threshold at level alpha (Nalisnick et al. 2019)';
  evaluate(x: Tensor): ScoreBatch {
    const loglik = this.loglik(x);
    const s = this.stateFor(loglik.length);
    const t = typicalityBatchTest(loglik, s);
    let mean = 0;
    for (const v of loglik) mean += v / loglik.length;
    return {
      score: Float32Array.of(t.statistic),
      columns: { statistic: Float32Array.of(t.statistic), epsilon: Float32Array.of(t.epsilon), ood: Float32Array.of(t.ood ? 1 : 0), loglik: Float32Array.of(mean) },
    };
  }
}

const OPTIONS = {
  k: 'IWAE importance samples K (default 50; unused with an exact likelihood)', seed: 'noise and bootstrap seed',
  alpha: 'test level alpha (default 0.01)', bootstrap: 'bootstrap batches (default 10000)',
};

export const typicalitySpec: DetectorSpec = {
  name: 'typicality',
  title: 'per-sample typicality |-log p(x) - H|, H the mean ID held-out NLL',
  reference: 'Nalisnick, Matsukawa, Teh & Lakshminarayanan, "Detecting Out-of-Distribution Inputs to Deep Generative Models Using Typicality", arXiv:1906.02994, 2019',
  granularity: 'sample',
  needs: NEEDS,
  fits: true,
  options: OPTIONS,
  columns: { typicality: 'nats per image', loglik: 'nats per image (exact, or IWAE)' },
  axis: '|-log p(x) - H| (nats)',
  units: 'nats per image',
  create: ({ model, options }) => new TypicalityDetector(likelihoodModel(model, "score 'typicality'"), options),
};

export const typicalityBatchSpec: DetectorSpec = {
  name: 'typicality-batch',
  title: 'typicality test of a batch of M images: |mean NLL - H| > eps_alpha (bootstrap on ID data)',
  reference: typicalitySpec.reference,
  granularity: 'batch',
  needs: NEEDS,
  fits: true,
  options: OPTIONS,
  columns: { statistic: 'nats per image (batch mean)', epsilon: 'threshold eps_alpha, nats', ood: '1 when the batch is flagged', loglik: 'mean log-likelihood of the batch (exact, or IWAE), nats' },
  axis: '|mean NLL - H| over the batch (nats)',
  units: 'nats per image',
  create: ({ model, options }) => new TypicalityBatchDetector(likelihoodModel(model, "score 'typicality-batch'"), options),
};
