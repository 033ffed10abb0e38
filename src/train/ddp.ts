// Data-parallel training over c10d (src/engine/distributed.ts), in the manner of PyTorch's DistributedDataParallel:
//
//  - Data: every epoch has one global seeded order (epochOrder(seed, epoch), the same on every rank); a global step
//    takes the next batchSize * worldSize images of it and rank r trains on the r-th block of batchSize. So
//    `--batch-size` is per rank, the global batch is batchSize * N, and N ranks x batch B see exactly the images one
//    process with batch N*B would see, step by step.
//  - Gradients: after backward, every optimizer's step first all-reduces its parameters' gradients (one flat buffer,
//    SUM, then / N), so each rank applies the gradient of the global-batch mean loss. This wraps the optimizers
//    themselves, so it covers every model family and both optimizers of Soft-IntroVAE without touching their steps.
//  - BatchNorm: per-rank statistics (the default of PyTorch DDP, no SyncBatchNorm): training normalises each rank's
//    block with its own batch statistics, and after every optimizer step the running statistics of rank 0 are
//    broadcast to all ranks (DDP's broadcast_buffers=True). The weights of N x B therefore differ from 1 x N*B
//    by the batch-statistics difference only when the model has BatchNorm; without BatchNorm they agree to float
//    rounding.
//  - Noise: rank r draws dequantisation / reparameterisation noise from its own generator (seed + 1 + r * 1000003;
//    rank 0 keeps the single-process stream), and every rank's generator state is saved, so --resume with the same N
//    continues exactly. Resuming with another N is refused.
//  - Rank 0 alone writes checkpoints, logs and grids; every rank takes part in each collective (stop decisions
//    included: time budget and Ctrl-C are agreed by an all-reduce each step, so no rank waits for a peer that left).
import { OodgenError } from '../errors.js';
import { distEnvFromProcess, ProcessGroup, type InitOptions } from '../engine/distributed.js';
import { tidy } from '../engine/scope.js';
import { noGrad, gradsOf } from '../engine/autograd.js';
import { cat, copy_ } from '../engine/ops/index.js';
import { fromTypedArray, tensor } from '../engine/ops/creation.js';
import type { Tensor } from '../engine/tensor.js';
import type { Generator } from '../engine/random.js';

interface Steppable {
  params: Tensor[];
  step(): void;
}

interface ModuleLike {
  parameters(): Tensor[];
  namedBuffers(): [string, Tensor][];
}

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

export class DataParallel {
  constructor(readonly pg: ProcessGroup) {}

  get rank(): number { return this.pg.rank; }
  get worldSize(): number { return this.pg.worldSize; }
  /** Rank 0 writes the run folder. */
  get lead(): boolean { return this.pg.rank === 0; }

  /** Global steps per epoch: each consumes batchSize images per rank. */
  stepsPerEpoch(n: number, batchSize: number): number {
    return Math.floor(n / (batchSize * this.worldSize));
  }

  /** This rank's block of global step `k` of an epoch's order. */
  batchIndex(order: Int32Array, k: number, batchSize: number): Int32Array {
    const start = (k * this.worldSize + this.rank) * batchSize;
    return order.subarray(start, start + batchSize);
  }

  /** The noise generator's seed on this rank (rank 0 keeps the single-process stream). */
  noiseSeed(base: number): number {
    return base + this.rank * 1_000_003;
  }

  /** Averages the gradients of `params` over the ranks, in place (one flat all-reduce). */
  allreduceGradients(params: Tensor[]): void {
    tidy(() => noGrad(() => {
      const grads = gradsOf(params).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) return;
      const sizes = grads.map((g) => g.numel);
      const flat = cat(grads.map((g) => g.reshape([-1])));  // (sum of numel,)
      this.pg.allreduce(flat, 'sum');
      const avg = flat.div(this.worldSize);
      let off = 0;
      grads.forEach((g, i) => {
        copy_(g, avg.narrow(0, off, sizes[i]!).reshape(g.shape));
        off += sizes[i]!;
      });
    }));
  }

  /** Overwrites `tensors` with rank 0's values (float tensors flattened into one broadcast, others one by one). */
  broadcastFromLead(tensors: Tensor[]): void {
    tidy(() => noGrad(() => {
      const floats = tensors.filter((t) => t.dtype === 'float32');
      const others = tensors.filter((t) => t.dtype !== 'float32');
      if (floats.length) {
        const flat = cat(floats.map((t) => t.reshape([-1])));  // (sum of numel,)
        this.pg.broadcast(flat, 0);
        let off = 0;
        for (const t of floats) {
          copy_(t, flat.narrow(0, off, t.numel).reshape(t.shape));
          off += t.numel;
        }
      }
      for (const t of others) {
        const c = t.contiguous();
        this.pg.broadcast(c, 0);
        copy_(t, c);
      }
    }));
  }

  /**
   * Makes a model and its optimizers data-parallel: rank 0's parameters and buffers are broadcast once (so all ranks
   * start equal even if their init differed), then each optimizer's step() averages its gradients first and
   * re-broadcasts the BatchNorm running statistics after.
   */
  wrap(model: ModuleLike, optimizers: object): void {
    const buffers = model.namedBuffers().map(([, b]) => b);
    this.broadcastFromLead([...model.parameters(), ...buffers]);
    for (const opt of Object.values(optimizers) as (Steppable | undefined)[]) {
      if (!opt) continue;
      const step = opt.step.bind(opt);
      opt.step = () => {
        this.allreduceGradients(opt.params);
        step();
        if (buffers.length) this.broadcastFromLead(buffers);
      };
    }
  }

  /**
   * Agrees on the nondeterministic stop conditions: a rank whose time budget ran out or that got a signal stops all
   * ranks at the same step. Returns the agreed stop reason, or null to go on.
   */
  agreeStop(timeUp: boolean, interrupted: string | null): string | null {
    const flags = tensor([timeUp ? 1 : 0, interrupted ? 1 : 0]);
    try {
      this.pg.allreduce(flags, 'max');
      const [t, i] = flags.toArray();
      if (i) return `interrupted (${interrupted ?? 'by another rank'})`;
      if (t) return 'time-budget';
      return null;
    } finally {
      flags.dispose();
    }
  }

  /** Every rank's noise state for state.json (a collective: all ranks call it); rank 0's is also `noise`. */
  rngState(noise: Generator): Record<string, string> {
    const mine = noise.getState();
    const t = fromTypedArray(mine, [mine.length]);
    const all = this.pg.allgather(t);
    t.dispose();
    const out: Record<string, string> = { noise: b64(mine), worldSize: String(this.worldSize) };
    all.forEach((s, r) => {
      out[`noise.rank${r}`] = b64(s.data() as Uint8Array);
      s.dispose();
    });
    return out;
  }

  /** Restores this rank's noise state saved by rngState; a run saved with another N is refused. */
  restoreNoise(rng: Record<string, string>, noise: Generator, dir: string): void {
    const saved = Number(rng.worldSize ?? 1);
    if (saved !== this.worldSize) {
      throw new OodgenError(`${dir}: the run was trained with ${saved} rank(s); resume it with --nproc ${saved} (got ${this.worldSize})`);
    }
    const s = rng[`noise.rank${this.rank}`];
    if (!s) throw new OodgenError(`${dir}/state.json: no noise state for rank ${this.rank}; cannot resume exactly`);
    noise.setState(unb64(s));
  }

  destroy(): void {
    this.pg.destroy();
  }
}

/** A single-process run's resume check: a run saved by N > 1 ranks must be resumed with N ranks. */
export function checkSingleResume(rng: Record<string, string>, dir: string): void {
  const saved = Number(rng.worldSize ?? 1);
  if (saved !== 1) throw new OodgenError(`${dir}: the run was trained with ${saved} ranks; resume it with --nproc ${saved}`);
}

/**
 * Runs `fn` with a DataParallel when this process is one of several ranks (WORLD_SIZE > 1 in the environment,
 * as set by `oodgen launch`), else with null. The process group is destroyed afterwards, also on error.
 */
export async function withDataParallel<T>(o: InitOptions, fn: (ddp: DataParallel | null) => Promise<T>): Promise<T> {
  const env = distEnvFromProcess();
  if (!env || env.worldSize === 1) return fn(null);
  const ddp = new DataParallel(ProcessGroup.init(env, o));
  try {
    return await fn(ddp);
  } finally {
    ddp.destroy();
  }
}
