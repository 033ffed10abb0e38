// The HTTP thread's side of the scoring workers (score-worker.ts): starts them, hands each one micro-batch at a
// time (the batcher fills the next batch meanwhile), moves images and scores as transferred ArrayBuffers (no
// copies), and survives a worker's death: the batch it was scoring is answered 503, the worker is restarted, and if
// it cannot be (or keeps dying) every later batch is answered 503 until the server is restarted.
import { Worker } from 'node:worker_threads';
import { OodgenError } from '../errors.js';
import { HttpError } from './errors.js';
import type { GateSource } from './gate.js';
import type { WorkerInit } from './score-worker.js';

export interface ScoringPoolOptions {
  /** Scoring workers, each scoring one micro-batch at a time (default 1). */
  workers?: number;
  /** libtorch (OpenMP) threads per worker (default: libtorch's own choice). */
  threads?: number;
  /** Longest a worker may take to load the model, ms (default 60,000). */
  startTimeoutMs?: number;
  /** Called after a worker died and a new one was started in its place. */
  onRestart?(): void;
  log?(line: string): void;
}

interface Waiter { resolve(v: never): void; reject(e: unknown): void }

/** A crash loop is this many restarts within RESTART_WINDOW_MS; then the pool stays down. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

function spawn(init: WorkerInit): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./score-worker.js', here), { workerData: init });
  // Running from the TypeScript sources (a checkout): the worker registers tsx itself, since hooks registered in
  // this thread (bin/oodgen.js) do not reach a new one.
  const entry = new URL('./score-worker.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `const { parentPort } = require('node:worker_threads');
import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })
  .catch((e) => parentPort.postMessage({ type: 'failed', message: String((e && e.message) || e) }));`;
  return new Worker(code, { eval: true, workerData: init, execArgv: [] });
}

class Slot {
  worker: Worker | null = null;
  busy = false;
  /** Set while a worker is being started; resolves when it is ready (or the slot is down). */
  starting: Promise<void> | null = null;
  readonly pending = new Map<number, Waiter>();
}

export class ScoringPool {
  private readonly slots: Slot[];
  private nextId = 1;
  private closing = false;
  private restarts: number[] = [];
  /** Why the pool stopped scoring (a worker that cannot be started, or a crash loop); null while it works. */
  down: string | null = null;

  private constructor(private readonly init: WorkerInit, private readonly expected: string, private readonly o: ScoringPoolOptions) {
    const n = o.workers ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new OodgenError(`scoring workers must be a positive integer, got ${o.workers}`);
    if (o.threads !== undefined && (!Number.isInteger(o.threads) || o.threads < 1)) throw new OodgenError(`threads per scoring worker must be a positive integer, got ${o.threads}`);
    this.slots = Array.from({ length: n }, () => new Slot());
  }

  /** Starts the workers; throws an OodgenError naming the cause when one cannot load the model or scorer. */
  static async start(source: GateSource, settings: Record<string, unknown>, o: ScoringPoolOptions = {}): Promise<ScoringPool> {
    const pool = new ScoringPool({ source, threads: o.threads }, JSON.stringify(settings), o);
    await Promise.all(pool.slots.map((s) => pool.launch(s)));
    const failed = pool.down;
    if (failed) {
      await pool.close();
      throw new OodgenError(failed);
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Workers ready to score now. */
  get ready(): number {
    return this.slots.filter((s) => s.worker && !s.starting).length;
  }

  /** The worker threads (for tests that kill one). */
  get workers(): Worker[] {
    return this.slots.flatMap((s) => (s.worker ? [s.worker] : []));
  }

  private launch(slot: Slot): Promise<void> {
    const w = spawn(this.init);
    slot.worker = w;
    slot.busy = false;
    const started = new Promise<void>((resolve) => {
      const timer = setTimeout(() => fail(`the scoring worker did not load the model within ${this.o.startTimeoutMs ?? 60_000} ms`), this.o.startTimeoutMs ?? 60_000);
      const fail = (why: string) => {
        clearTimeout(timer);
        this.down ??= why;
        if (slot.worker === w) slot.worker = null;
        void w.terminate();
        resolve();
      };
      w.once('message', (m: { type: string; settings?: Record<string, unknown>; message?: string }) => {
        if (m.type === 'failed') return fail(`the scoring worker could not start: ${m.message}`);
        const got = JSON.stringify(m.settings);
        if (m.type !== 'ready' || got !== this.expected) return fail(`the scoring worker's scorer (${got}) differs from the gate's (${this.expected})`);
        clearTimeout(timer);
        w.on('message', (r) => this.answer(slot, r));
        w.unref();
        resolve();
      });
      w.on('error', (e) => this.o.log?.(`scoring worker error: ${e.message}`));
      w.on('exit', (code) => {
        clearTimeout(timer);
        if (slot.starting) fail(`the scoring worker exited (code ${code}) while loading the model`);
        this.died(slot, w, code);
      });
    });
    slot.starting = started.finally(() => {
      slot.starting = null;
    });
    return slot.starting;
  }

  private answer(slot: Slot, m: { type: string; id: number; scores?: Float32Array; rec?: Float32Array; message?: string; n?: number }): void {
    const p = slot.pending.get(m.id);
    if (!p) return;
    slot.pending.delete(m.id);
    if (slot.pending.size === 0) slot.worker?.unref();
    if (m.type === 'error') p.reject(new OodgenError(`scoring failed: ${m.message}`));
    else p.resolve((m.type === 'live' ? m.n : { scores: m.scores, reconstructions: m.rec }) as never);
  }

  private died(slot: Slot, w: Worker, code: number): void {
    if (slot.worker === w) slot.worker = null;
    slot.busy = false;
    const lost = [...slot.pending.values()];
    slot.pending.clear();
    for (const p of lost) p.reject(new HttpError(503, 'scorer_unavailable', `the scoring worker stopped (exit code ${code}) before answering; this request was not scored, retry`));
    if (this.closing || this.down) return;
    const now = Date.now();
    this.restarts = [...this.restarts.filter((t) => now - t < RESTART_WINDOW_MS), now];
    if (this.restarts.length > MAX_RESTARTS) {
      this.down = `the scoring worker died ${this.restarts.length} times within ${RESTART_WINDOW_MS / 1000} s`;
      this.o.log?.(`${this.down}; answering 503 until the server is restarted`);
      return;
    }
    this.o.log?.(`scoring worker exited (code ${code}); starting a new one`);
    void this.launch(slot).then(() => {
      if (slot.worker) this.o.onRestart?.();
    });
  }

  private unavailable(): HttpError {
    return new HttpError(503, 'scorer_unavailable', `the gate cannot score now: ${this.down ?? 'the pool is closed'}`);
  }

  private call<T>(slot: Slot, msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    const w = slot.worker;
    if (!w) return Promise.reject(this.unavailable());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (v: never) => void, reject });
      w.ref(); // while an answer is awaited, the worker keeps the process alive
      w.postMessage({ ...msg, id }, transfer);
    });
  }

  /**
   * Scores n packed images (B, C, H, W) in an idle worker; `buf` is transferred (unusable here afterwards).
   * Rejects with a 503 HttpError when no worker can score.
   */
  async score(buf: Float32Array, n: number, rec: boolean): Promise<{ scores: Float32Array; reconstructions?: Float32Array }> {
    for (;;) {
      if (this.closing || this.down) throw this.unavailable();
      const slot = this.slots.find((s) => s.worker && !s.starting && !s.busy);
      if (slot) {
        slot.busy = true;
        try {
          return await this.call(slot, { type: 'score', buf, n, rec }, [buf.buffer as ArrayBuffer]);
        } finally {
          slot.busy = false;
        }
      }
      const starting = this.slots.find((s) => s.starting)?.starting;
      if (!starting) throw new OodgenError(`all ${this.size} scoring workers are busy (the batcher runs at most one batch per worker)`);
      await starting;
    }
  }

  /** Live tensors summed over the workers (a worker busy with a batch answers after it). */
  async liveTensors(): Promise<number> {
    const counts = await Promise.all(this.slots.map((s) => (s.worker && !s.starting ? this.call<number>(s, { type: 'live' }).catch(() => 0) : 0)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Lets each worker free its model and exit (waits for the batch it is scoring). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map(async (s) => {
      await s.starting;
      const w = s.worker;
      if (!w) return;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.postMessage({ type: 'close' });
      const timer = setTimeout(() => void w.terminate(), 10_000);
      await exited;
      clearTimeout(timer);
    }));
  }
}
