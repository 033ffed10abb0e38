// Engine side of the latent-semantics analysis (Chen 2021, Sec. 3.4): images -> posterior means mu(x), decoded
// codes, reconstructions and per-image -ELBO, in bounded-memory batches under noGrad + tidy.
//
// BatchNorm statistics follow the scoring modes of src/scores/bn-mode.ts (eval | enc | dec | both): the model is
// put in eval mode with the chosen BatchNorms on *batch* statistics (which never update the running ones) and
// everything is restored afterwards, also on error. In a batch-statistics mode a code depends on the other images
// of its batch, so batches are always formed the same way - consecutive rows of the set, `batchSize` at a time -
// and `reconstructRows` re-runs the very batch an image was encoded in, so a reconstruction shown in a figure is
// the one the encoder produced for the code that was analysed.
import { Tensor, fromTypedArray, noGrad, tidy } from '../engine/index.js';
import { gatherBatch, imageBatch } from '../data/batches.js';
import type { Images } from '../data/types.js';
import { OodgenError } from '../errors.js';
import type { LatentModel } from '../models/types.js';
import { applyBnMode, parseBnMode, type BnMode } from '../scores/bn-mode.js';
import { ElboDetector } from '../scores/elbo.js';
import { checkImagesFit } from '../models/capabilities.js';

export type { Images } from '../data/types.js';

export interface EncodeOptions {
  /** BatchNorm statistics (default 'eval'). */
  bn?: BnMode;
  /** Images per forward pass (default 128). In a batch-statistics mode this also defines the batches. */
  batchSize?: number;
  /** Called after each batch with the number of images done so far. */
  onBatch?: (done: number) => void;
}

export interface EncodeNllOptions {
  /** Also compute the per-image negative ELBO (nats) in the same batches; default false. */
  nll?: boolean;
  /** Posterior samples for the ELBO's reconstruction term (default 1). */
  nllSamples?: number;
  /** Seed of the ELBO's posterior noise (default 0). */
  seed?: number;
}

export interface Encoded {
  /** n x zDim posterior means, row-major. */
  mu: Float32Array;
  n: number;
  zDim: number;
  /** -ELBO per image (nats) when asked for; for a deterministic AE -log p(x | z = mu(x)) instead (see nllKind). */
  nll?: Float32Array;
  nllKind?: NllKind;
}

/**
 * 'elbo': -ELBO(x) = -(E_q[log p(x|z)] - KL(q(z|x) || N(0, I))), an upper bound on -log p(x) (src/scores/elbo.ts).
 * 'reconstruction': -log p(x | z = mu(x)), for models without a stochastic encoder (AE); not a bound on -log p(x).
 */
export type NllKind = 'elbo' | 'reconstruction';

export const DEFAULT_BATCH = 128;

function checkImages(model: LatentModel, set: Images, what: string): void {
  checkImagesFit(model, set, what);
  if (set.shape[0] < 1) throw new OodgenError(`${what}: the set is empty`);
}

function checkBatch(b: number | undefined): number {
  const bs = b ?? DEFAULT_BATCH;
  if (!Number.isInteger(bs) || bs < 1) throw new OodgenError(`batch size must be a positive integer, got ${b}`);
  return bs;
}

/** Rows [start, start + count) of a set as a float32 (count, C, H, W) tensor in [0, 1] on `device`. */
export function batchTensor(set: Images, start: number, count: number, device: string): Tensor {
  return imageBatch(set, Int32Array.from({ length: count }, (_, i) => start + i), device);
}

/** Rows `idx` (any order) of a set, gathered on the host, as float32 in [0, 1]. */
export function gatherImages(set: Images, idx: ArrayLike<number>): Float32Array {
  const n = set.shape[0];
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r]!;
    if (!(Number.isInteger(i) && i >= 0 && i < n)) throw new OodgenError(`gatherImages: row ${i} out of range [0, ${n})`);
  }
  return gatherBatch(set, idx).x;
}

/** Runs fn with the model in BatchNorm mode `bn` (restored afterwards, also on error) and without autograd. */
export function withAnalysisMode<T>(model: LatentModel, bn: BnMode, fn: () => T): T {
  const restore = applyBnMode(model, parseBnMode(bn));
  try {
    return noGrad(fn);
  } finally {
    restore();
  }
}

/**
 * Posterior means mu(x) of every image (and optionally the per-image -ELBO), `batchSize` consecutive images per
 * forward pass. Returns host arrays; no tensor outlives the call.
 */
export async function encodeSet(model: LatentModel, set: Images, opts: EncodeOptions & EncodeNllOptions = {}): Promise<Encoded> {
  checkImages(model, set, `encode ${set.name ?? 'images'}`);
  const bs = checkBatch(opts.batchSize);
  const bn = parseBnMode(opts.bn ?? 'eval');
  const n = set.shape[0];
  const zDim = model.config.zDim;
  const mu = new Float32Array(n * zDim);
  let nll: Float32Array | undefined;
  let nllKind: NllKind | undefined;
  let detector: { evaluate(x: Tensor): { columns: Record<string, Float32Array> } } | undefined;
  if (opts.nll) {
    nll = new Float32Array(n);
    // The ELBO of src/scores (analytic KL, L-sample reconstruction term); an AE has no q(z|x), so it gets the
    // reconstruction term at z = mu(x) and is labelled as such.
    const probe = withAnalysisMode(model, bn, () => tidy(() => model.encode(batchTensor(set, 0, 1, model.device)).logvar !== null));
    if (probe) {
      detector = new ElboDetector(model, { samples: opts.nllSamples ?? 1, seed: opts.seed ?? 0 });
      nllKind = 'elbo';
    } else nllKind = 'reconstruction';
  }
  const device = model.device;
  for (let start = 0; start < n; start += bs) {
    const count = Math.min(bs, n - start);
    withAnalysisMode(model, bn, () => tidy(() => {
      const x = batchTensor(set, start, count, device);
      const post = model.encode(x);
      const m = post.mu.toFloat32Array();
      if (m.length !== count * zDim) throw new OodgenError(`encode: the model returned ${m.length / count} code dimensions, config says zDim = ${zDim}`);
      mu.set(m, start * zDim);
      if (nll) {
        if (detector) {
          const elbo = detector.evaluate(x).columns.elbo!;
          for (let i = 0; i < count; i++) nll[start + i] = -elbo[i]!;
        } else {
          const ll = model.logLikelihood(x, model.decode(post.mu)).toFloat32Array();
          for (let i = 0; i < count; i++) nll[start + i] = -ll[i]!;
        }
      }
    }));
    opts.onBatch?.(start + count);
    // Let a progress bar redraw between batches.
    if ((start / bs) % 8 === 7) await new Promise((r) => setImmediate(r));
  }
  return { mu, n, zDim, ...(nll ? { nll, nllKind } : {}) };
}

/** Decoder means model.mean(model.decode(z)) of m x zDim codes, as m x C x H x W float32 in [0, 1]. */
export function decodeCodes(model: LatentModel, codes: ArrayLike<number>, opts: { bn?: BnMode; batchSize?: number } = {}): Float32Array {
  const zDim = model.config.zDim;
  if (codes.length % zDim !== 0) throw new OodgenError(`decodeCodes: ${codes.length} values are not a multiple of zDim = ${zDim}`);
  const m = codes.length / zDim;
  const { channels: c, imageSize: s } = model.config;
  const per = c * s * s;
  const out = new Float32Array(m * per);
  const bs = checkBatch(opts.batchSize);
  const f = Float32Array.from(codes);
  for (let start = 0; start < m; start += bs) {
    const count = Math.min(bs, m - start);
    withAnalysisMode(model, opts.bn ?? 'eval', () => tidy(() => {
      const z = fromTypedArray(f.subarray(start * zDim, (start + count) * zDim), [count, zDim], { device: model.device });
      out.set(model.mean(model.decode(z)).toFloat32Array(), start * per);
    }));
  }
  return out;
}

/**
 * Reconstructions model.mean(model.decode(mu(x))) of rows `idx` of a set, computed in the same batches as
 * encodeSet (so that batch-statistics modes give the reconstruction of the analysed code). Returned in idx order.
 */
export function reconstructRows(model: LatentModel, set: Images, idx: ArrayLike<number>, opts: { bn?: BnMode; batchSize?: number } = {}): Float32Array {
  checkImages(model, set, `reconstruct ${set.name ?? 'images'}`);
  const bs = checkBatch(opts.batchSize);
  const bn = parseBnMode(opts.bn ?? 'eval');
  const [n, c, h, w] = set.shape;
  const per = c * h * w;
  const out = new Float32Array(idx.length * per);
  const byBatch = new Map<number, number[]>();
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r]!;
    if (!(Number.isInteger(i) && i >= 0 && i < n)) throw new OodgenError(`reconstructRows: row ${i} out of range [0, ${n})`);
    const b = Math.floor(i / bs);
    const list = byBatch.get(b) ?? [];
    list.push(r);
    byBatch.set(b, list);
  }
  for (const [b, rows] of byBatch) {
    const start = b * bs;
    const count = Math.min(bs, n - start);
    withAnalysisMode(model, bn, () => tidy(() => {
      const x = batchTensor(set, start, count, model.device);
      const rec = model.mean(model.decode(model.encode(x).mu)).toFloat32Array();
      for (const r of rows) {
        const j = idx[r]! - start;
        out.set(rec.subarray(j * per, (j + 1) * per), r * per);
      }
    }));
  }
  return out;
}
