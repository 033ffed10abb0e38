// Process groups and collectives on Tensors, over libtorch's own c10d (native/src/c10d.cc): a TCPStore rendezvous
// hosted by rank 0, ProcessGroupGloo on CPU, ProcessGroupNCCL in CUDA builds. Configured torchrun-style from
// RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT / LOCAL_RANK. Every collective waits with a timeout, so a peer that
// died or hangs becomes an OodgenError on the survivors instead of a hang.
import { native, type GroupHandle } from './native.js';
import { OodgenError } from '../errors.js';
import { Tensor } from './tensor.js';
import { zerosLike } from './ops/creation.js';

export type Backend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'max' | 'min' | 'product';

// The typed c10d entry points are part of the binding (native.ts); looked up per call through `native`, so
// importing this module never loads the addon by itself (it loads on first use).
const c10d = () => native;

/** The collective timeout unless OODGEN_DIST_TIMEOUT_MS or the caller says otherwise (PyTorch's default is 30 min). */
export const DEFAULT_TIMEOUT_MS = 300_000;

/** The backends this build of the addon can create. */
export function availableBackends(): { gloo: boolean; nccl: boolean } {
  return c10d().c10dBackends();
}

/** A torchrun-style rendezvous description. */
export interface DistEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
}

function envInt(env: NodeJS.ProcessEnv, name: string, lo: number, hi: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') throw new OodgenError(`distributed: environment variable ${name} is not set (the launcher sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)`);
  const v = Number(raw);
  if (!Number.isInteger(v) || v < lo || v > hi) throw new OodgenError(`distributed: ${name}=${raw} is not an integer in [${lo}, ${hi}]`);
  return v;
}

/**
 * The rendezvous from the environment, or null when this process was not started as one of several ranks
 * (WORLD_SIZE unset). Malformed variables are an OodgenError naming the variable.
 */
export function distEnvFromProcess(env: NodeJS.ProcessEnv = process.env): DistEnv | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return null;
  const worldSize = envInt(env, 'WORLD_SIZE', 1, 65536);
  const rank = envInt(env, 'RANK', 0, worldSize - 1);
  const localRank = env.LOCAL_RANK !== undefined && env.LOCAL_RANK !== '' ? envInt(env, 'LOCAL_RANK', 0, 65535) : rank;
  const masterAddr = env.MASTER_ADDR ?? '127.0.0.1';
  if (!masterAddr) throw new OodgenError('distributed: MASTER_ADDR is empty');
  const masterPort = envInt(env, 'MASTER_PORT', 1, 65535);
  return { rank, worldSize, localRank, masterAddr, masterPort };
}

/**
 * The device of one rank on this machine. Plain 'cuda' with several ranks means one GPU per rank, cuda:LOCAL_RANK
 * (torchrun's convention, and what NCCL needs: two ranks on one GPU fail inside NCCL); 'cpu' and an explicit
 * cuda:N are kept.
 */
export function rankDevice(device: string, localRank: number, cudaCount: number): string {
  if (device !== 'cuda') return device;
  if (localRank >= cudaCount) {
    throw new OodgenError(`distributed: the rank with LOCAL_RANK ${localRank} needs cuda:${localRank}, but this machine has ${cudaCount} CUDA device(s); ` +
      `use --nproc ${Math.max(1, cudaCount)} or fewer with --device cuda (NCCL needs one GPU per rank)`);
  }
  return `cuda:${localRank}`;
}

/**
 * Checks `--nproc n --device d` before any rank starts: a CUDA device must exist in this build (the CPU build says
 * so once, instead of from every rank), and plain 'cuda' needs n GPUs.
 */
export function checkLaunchDevice(device: string | undefined, nproc: number, cudaCount: number, explainNoCuda: () => string): void {
  if (device === undefined || !/^cuda(:\d+)?$/.test(device)) return;
  if (cudaCount === 0) throw new OodgenError(explainNoCuda());
  if (device === 'cuda' && nproc > cudaCount) {
    throw new OodgenError(`--nproc ${nproc} with --device cuda needs ${nproc} GPUs (one per rank, NCCL), but this machine has ${cudaCount}; use --nproc ${cudaCount} or fewer`);
  }
}

export interface InitOptions {
  /** 'auto' (default): NCCL for a CUDA device when the build has it, else Gloo. */
  backend?: Backend | 'auto';
  /** The device the collectives' tensors live on (chooses the backend under 'auto'). */
  device?: string;
  /** Rendezvous and per-collective timeout in ms (default OODGEN_DIST_TIMEOUT_MS or 300 s). */
  timeoutMs?: number;
}

const isLoopback = (addr: string): boolean => addr === 'localhost' || /^127\./.test(addr) || addr === '::1';

/** A c10d process group: this rank's view of the N processes that train or score together. */
export class ProcessGroup {
  private handle: GroupHandle | null;

  private constructor(handle: GroupHandle, readonly rank: number, readonly worldSize: number, readonly backend: Backend, readonly timeoutMs: number) {
    this.handle = handle;
  }

  /** Joins (rank 0: hosts) the rendezvous at env.masterAddr:masterPort; blocks until all ranks joined or timeout. */
  static init(env: DistEnv, o: InitOptions = {}): ProcessGroup {
    const avail = availableBackends();
    const wantCuda = (o.device ?? 'cpu').startsWith('cuda');
    const backend: Backend = o.backend === undefined || o.backend === 'auto' ? (wantCuda && avail.nccl ? 'nccl' : 'gloo') : o.backend;
    if (!avail[backend]) {
      throw new OodgenError(`distributed: backend '${backend}' is not in this build of the oodgen addon` +
        (backend === 'gloo' ? ' (install libgloo-dev, then npm run build:native)' : ' (build against a CUDA libtorch with NCCL)'));
    }
    const envTimeout = process.env.OODGEN_DIST_TIMEOUT_MS;
    const timeoutMs = o.timeoutMs ?? (envTimeout ? Number(envTimeout) : DEFAULT_TIMEOUT_MS);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new OodgenError(`distributed: timeout must be a positive integer of ms, got ${envTimeout ?? timeoutMs}`);
    // Gloo binds its own sockets to this host's address: on one machine that is loopback.
    const hostname = process.env.OODGEN_GLOO_HOSTNAME ?? (isLoopback(env.masterAddr) ? '127.0.0.1' : undefined);
    let h: GroupHandle;
    try {
      h = c10d().c10dInit({ backend, masterAddr: env.masterAddr, masterPort: env.masterPort, rank: env.rank, worldSize: env.worldSize, timeoutMs, ...(backend === 'gloo' && hostname ? { hostname } : {}) });
    } catch (e) {
      throw new OodgenError(`distributed: rank ${env.rank} of ${env.worldSize} could not join the ${backend} process group at ` +
        `${env.masterAddr}:${env.masterPort} within ${timeoutMs} ms: ${(e as Error).message}`);
    }
    return new ProcessGroup(h, env.rank, env.worldSize, backend, timeoutMs);
  }

  private get h(): GroupHandle {
    if (this.handle === null) throw new OodgenError('distributed: the process group was destroyed');
    return this.handle;
  }

  private run(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof OodgenError) throw e;
      throw new OodgenError(`distributed: ${(e as Error).message}`);
    }
  }

  /** In-place all-reduce of one contiguous tensor. */
  allreduce(t: Tensor, op: ReduceOp = 'sum', timeoutMs?: number): void {
    this.run(() => c10d().c10dAllreduce(this.h, [t.handle], op, timeoutMs));
  }

  /** In-place broadcast of one contiguous tensor from `root`. */
  broadcast(t: Tensor, root = 0, timeoutMs?: number): void {
    this.run(() => c10d().c10dBroadcast(this.h, [t.handle], root, timeoutMs));
  }

  /** Every rank's `t` (same shape and dtype on all ranks), in rank order; the caller owns the results. */
  allgather(t: Tensor, timeoutMs?: number): Tensor[] {
    const outs = Array.from({ length: this.worldSize }, () => zerosLike(t));
    try {
      this.run(() => c10d().c10dAllgather(this.h, outs.map((o) => o.handle), [t.handle], timeoutMs));
    } catch (e) {
      for (const o of outs) o.dispose();
      throw e;
    }
    return outs;
  }

  barrier(timeoutMs?: number): void {
    this.run(() => c10d().c10dBarrier(this.h, timeoutMs));
  }

  /** Releases the group and its store (rank 0 stops hosting the rendezvous). */
  destroy(): void {
    if (this.handle === null) return;
    const h = this.handle;
    this.handle = null;
    c10d().c10dDestroy(h);
  }
}
