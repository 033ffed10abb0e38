// Debian's libtorch does its convolutions as im2col + OpenBLAS GEMMs, and OpenBLAS (0.3.21 in Debian 12) picks its
// kernels by CPU model once, when the library loads. A model it does not know falls back to "Prescott", the generic
// SSE3 kernels. Seen here on 2026-11-30: an Intel Xeon of family 6 model 207 (Emerald Rapids) with AVX-512 got
// Prescott, 16 GFLOPS single-thread SGEMM against 84 with the SkylakeX kernels, and the categorical CIFAR-10 VAE's
// training step took 5.5 s instead of 4.0 (docs/benchmarks.md). OPENBLAS_CORETYPE overrides the choice; so, before
// the addon loads, oodgen sets it from the instruction sets the CPU reports, on x86-64: for Intel, the mapping follows
// the one OpenBLAS uses for the Intel models it knows (AVX-512 F/CD/BW/DQ/VL: SkylakeX, the kernels of Skylake-SP and
// the server parts after it; AVX2 + FMA: Haswell). AMD CPUs with that AVX-512 set (Zen 4 and 5) get SkylakeX too, as
// later OpenBLAS releases detect them (OpenMathLib/OpenBLAS#4303); 0.3.21 gives them Haswell (measured on a Zen 5,
// family 26, 2026-12-02: 88 against 151 GFLOPS single-thread SGEMM, and the categorical CIFAR-10 VAE's step about
// 10 % slower, docs/benchmarks.md). AMD CPUs without AVX-512 keep OpenBLAS's own choice (its Zen kernels are tuned
// for them). An OPENBLAS_CORETYPE already in the environment wins.
import { readFileSync } from 'node:fs';

/** The OpenBLAS core type for a CPU described by /proc/cpuinfo text, or undefined to leave OpenBLAS's choice. */
export function openblasCoreFor(cpuinfo: string, arch: string = process.arch): 'SkylakeX' | 'Haswell' | undefined {
  if (arch !== 'x64') return undefined;
  const vendor = /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo)?.[1];
  if (vendor !== 'GenuineIntel' && vendor !== 'AuthenticAMD') return undefined;
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
  if (['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) return 'SkylakeX';
  if (vendor === 'GenuineIntel' && flags.has('avx2') && flags.has('fma')) return 'Haswell';
  return undefined;
}

/**
 * Sets env.OPENBLAS_CORETYPE from this machine's /proc/cpuinfo unless it is set already (or the file is not there:
 * not Linux). Returns the value in effect afterwards. Must run before libtorch (and so OpenBLAS) is loaded.
 */
export function applyOpenblasCoreType(env: NodeJS.ProcessEnv = process.env, cpuinfoPath = '/proc/cpuinfo'): string | undefined {
  if (env.OPENBLAS_CORETYPE !== undefined) return env.OPENBLAS_CORETYPE;
  let text: string;
  try { text = readFileSync(cpuinfoPath, 'utf8'); } catch { return undefined; }
  const core = openblasCoreFor(text);
  if (core) env.OPENBLAS_CORETYPE = core;
  return core;
}
