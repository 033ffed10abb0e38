// Micro-batching of concurrent requests: images wait at most `maxWaitMs` (or until `maxBatch` are queued) and are
// then scored together in one forward pass. At most `concurrency` batches are out at once (one per scoring worker);
// requests that arrive while they run queue up and form the next batch the moment a worker is free (double
// buffering: the next batch fills while the current one is scored), so under load batches fill by themselves and a
// lone request waits no more than maxWaitMs. A synchronous run (scoring on this thread) works the same way, with
// queueing limited to what arrives between event-loop turns. Per-sample scoring (scorer.ts) makes the answer
// independent of batch-mates.
import { OodgenError } from '../errors.js';

export interface BatcherOptions<T, R> {
  maxBatch: number;
  maxWaitMs: number;
  /** Scores one batch; returns one result per item, in order. */
  run(items: T[]): R[] | Promise<R[]>;
  /** Batches out at once (default 1). */
  concurrency?: number;
  /** Called with each batch's size (metrics). */
  onBatch?(size: number): void;
}

interface Pending<T, R> {
  item: T;
  resolve(r: R): void;
  reject(e: unknown): void;
  /** True when nobody waits for the answer any more (client gone, deadline passed): skipped, not scored. */
  cancelled?(): boolean;
}

export class MicroBatcher<T, R> {
  private queue: Pending<T, R>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private closing = false;
  private running = 0;

  constructor(private readonly o: BatcherOptions<T, R>) {
    if (!Number.isInteger(o.maxBatch) || o.maxBatch < 1) throw new OodgenError(`max batch must be a positive integer, got ${o.maxBatch}`);
    if (!(o.maxWaitMs >= 0)) throw new OodgenError(`max wait must be >= 0 ms, got ${o.maxWaitMs}`);
    if (!Number.isInteger(o.concurrency ?? 1) || (o.concurrency ?? 1) < 1) throw new OodgenError(`batcher concurrency must be a positive integer, got ${o.concurrency}`);
  }

  /** Batches being scored now. */
  get inFlight(): number {
    return this.running;
  }

  get pending(): number {
    return this.queue.length;
  }

  submit(item: T, cancelled?: () => boolean): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject, cancelled });
      if (this.queue.length >= this.o.maxBatch || this.closing) this.schedule(true);
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.o.maxWaitMs);
    });
  }

  private schedule(now: boolean): void {
    if (now) {
      // On the next turn, so that items submitted in the same tick (one request's images) join this batch.
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        this.flush();
      });
    }
  }

  /** Sends up to maxBatch queued items to be scored now, if fewer than `concurrency` batches are out. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running >= (this.o.concurrency ?? 1)) return; // the batch's end flushes again
    const live = this.queue.filter((p) => !p.cancelled?.());
    for (const p of this.queue) if (p.cancelled?.()) p.reject(new OodgenError('request cancelled before scoring'));
    const batch = live.slice(0, this.o.maxBatch);
    this.queue = live.slice(this.o.maxBatch);
    if (batch.length > 0) {
      this.running++;
      const done = (out: R[]) => {
        this.o.onBatch?.(batch.length);
        batch.forEach((p, i) => p.resolve(out[i]!));
      };
      const failed = (e: unknown) => {
        for (const p of batch) p.reject(e);
      };
      const ended = () => {
        this.running--;
        // What queued meanwhile has waited a whole batch already: score it on the next turn.
        if (this.queue.length > 0) this.schedule(true);
      };
      let out: R[] | Promise<R[]>;
      try {
        out = this.o.run(batch.map((p) => p.item));
      } catch (e) {
        failed(e);
        ended();
        return;
      }
      if (out instanceof Promise) {
        out.then(done, failed).finally(ended);
        // Another worker may be free for what is left.
        if (this.queue.length > 0 && this.running < (this.o.concurrency ?? 1)) this.schedule(true);
        return;
      }
      done(out);
      ended();
      return;
    }
    if (this.queue.length > 0) this.schedule(true);
  }

  /** Stops waiting: everything queued (and submitted from now on) is scored at once. */
  close(): void {
    this.closing = true;
    if (this.queue.length > 0) this.schedule(true);
  }
}
