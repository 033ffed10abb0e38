// `--threads N` sizes libtorch's intra-op pool, but Debian's libtorch also calls OpenBLAS, whose own pool is sized
// once, from OPENBLAS_NUM_THREADS, when the library loads: with it unset, a `--threads 1` job still runs a second
// BLAS thread that buys nothing on a busy machine and takes a core from the other jobs (measured: docs/benchmarks.md,
// "Flow models"). So the launcher sets it from --threads before the addon is imported. An explicit
// OPENBLAS_NUM_THREADS in the environment wins.

/** The value given to `--threads` in argv (`--threads N` or `--threads=N`), or undefined. */
export function threadsArg(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') break;
    if (argv[i] === '--threads') return argv[i + 1];
    if (argv[i].startsWith('--threads=')) return argv[i].slice('--threads='.length);
  }
  return undefined;
}

/** Sets env.OPENBLAS_NUM_THREADS from argv's --threads (a positive integer) unless it is already set. */
export function applyBlasThreads(argv, env) {
  const t = threadsArg(argv);
  if (env.OPENBLAS_NUM_THREADS === undefined && t !== undefined && /^[1-9][0-9]*$/.test(t)) env.OPENBLAS_NUM_THREADS = t;
}
