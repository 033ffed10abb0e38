// The one progress reporter: a bar on stderr only when a person is watching (stderr is a TTY, not under tests),
// so logs and tests stay clean. Loaders tick; the scoring pipeline reports absolute counts.
import cliProgress from 'cli-progress';

export interface Progress {
  /** Advances by n (default 1). */
  tick(n?: number): void;
  /** Sets the count done, and the values of the format's {fields}. */
  update(done: number, fields?: Record<string, unknown>): void;
  stop(): void;
}

const NONE: Progress = { tick() {}, update() {}, stop() {} };

/**
 * A progress bar for `total` items labelled `label`; a no-op off a TTY, under OODGEN_TEST, or for fewer than
 * `minTotal` items (default 0; file loaders pass 2000 so small loads stay quiet), unless `force` (the trainer's
 * explicit --progress bar). `format` with {fields} replaces the default line.
 */
export function progress(
  label: string, total: number,
  o: { minTotal?: number; clear?: boolean; force?: boolean; format?: string; start?: number; fields?: Record<string, unknown>; fps?: number } = {},
): Progress {
  if (!o.force && (!process.stderr.isTTY || process.env.OODGEN_TEST || total < (o.minTotal ?? 0))) return NONE;
  const bar = new cliProgress.SingleBar(
    {
      format: o.format ?? `${label.padEnd(34)} [{bar}] {value}/{total} {eta_formatted}`, stream: process.stderr,
      clearOnComplete: o.clear ?? false, hideCursor: true, ...(o.fps ? { fps: o.fps } : {}),
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, o.start ?? 0, o.fields);
  return { tick: (n = 1) => bar.increment(n), update: (d, f) => bar.update(d, f), stop: () => bar.stop() };
}
