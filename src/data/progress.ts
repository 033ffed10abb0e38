// The one progress reporter: a bar on stderr only when a person is watching (stderr is a TTY, not under tests),
// so logs and tests stay clean. Loaders tick; the scoring pipeline reports absolute counts.
import cliProgress from 'cli-progress';

export interface Progress {
  /** Advances by n (default 1). */
  tick(n?: number): void;
  /** Sets the count done. */
  update(done: number): void;
  stop(): void;
}

const NONE: Progress = { tick() {}, update() {}, stop() {} };

/**
 * A progress bar for `total` items labelled `label`; a no-op off a TTY, under OODGEN_TEST, or for fewer than
 * `minTotal` items (default 0; file loaders pass 2000 so small loads stay quiet).
 */
export function progress(label: string, total: number, o: { minTotal?: number; clear?: boolean } = {}): Progress {
  if (!process.stderr.isTTY || process.env.OODGEN_TEST || total < (o.minTotal ?? 0)) return NONE;
  const bar = new cliProgress.SingleBar(
    { format: `${label.padEnd(34)} [{bar}] {value}/{total} {eta_formatted}`, stream: process.stderr, clearOnComplete: o.clear ?? false, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { tick: (n = 1) => bar.increment(n), update: (d) => bar.update(d), stop: () => bar.stop() };
}
