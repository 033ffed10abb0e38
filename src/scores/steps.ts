// Work in steps: a generator that `yield`s where a long computation may pause (between batches, between optimizer
// steps) and returns its result. `drain` runs it to the end at once (the synchronous API, unchanged numbers);
// `drainAsync` gives the event loop a macrotask turn at every yield, so a signal handler (Ctrl-C) runs and an
// AbortSignal can stop the work within one step. Scoring is otherwise synchronous and its awaits resolve as
// microtasks, which never let a SIGINT callback run.
import { tidy } from '../engine/index.js';

export type Steps<T> = Generator<void, T, void>;

/** Runs the steps to the end synchronously. */
export function drain<T>(g: Steps<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/**
 * One macrotask turn, then signal.reason thrown if the signal aborted. Synchronous scoring resolves its awaits as
 * microtasks, so without such a turn a Ctrl-C handler (a libuv signal callback) would not run until the work ended.
 */
export async function macrotaskTurn(signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  signal?.throwIfAborted();
}

/**
 * Runs the steps, yielding to the event loop between them; when `signal` aborts, stops at the next step with
 * signal.reason (an AbortError unless the aborter gave one) after the generator's `finally` blocks have freed what
 * it held. Each stretch between two yields runs inside `tidy`, so a tensor held across a yield must be `keep()`-ed
 * by the generator (and disposed in its `finally`).
 */
export async function drainAsync<T>(g: Steps<T>, signal?: AbortSignal): Promise<T> {
  let finished = false;
  try {
    signal?.throwIfAborted();
    for (;;) {
      const r = tidy(() => g.next());
      if (r.done) { finished = true; return r.value; }
      await macrotaskTurn(signal);
    }
  } finally {
    if (!finished) tidy(() => { g.return(undefined as T); });
  }
}
