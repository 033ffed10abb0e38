// Devices and CPU threads.
import { native } from './native.js';
import { OodgenError } from '../errors.js';

export const cuda = {
  /** True when the linked libtorch has CUDA and sees a GPU. */
  isAvailable: (): boolean => native.cudaDeviceCount() > 0,
  deviceCount: (): number => native.cudaDeviceCount(),
  /** Waits for all queued GPU work (for timing). No-op without CUDA. */
  synchronize: (): void => native.synchronize(),
};

/**
 * Checks a CUDA device index against the devices this process sees: 'cuda:7' on a one-GPU machine is a user error
 * naming the device and what exists, not an internal error from libtorch later.
 */
export function checkCudaIndex(d: string, count: number): void {
  const m = /^cuda:(\d+)$/.exec(d);
  if (!m) return;
  const i = Number(m[1]);
  if (i >= count) {
    const have = count === 1 ? '1 CUDA device (cuda:0)' : `${count} CUDA devices (cuda:0 .. cuda:${count - 1})`;
    throw new OodgenError(`device '${d}' does not exist: this machine has ${have}; use --device cuda or one of those`);
  }
}

/** Validates a device string and checks it exists here. */
export function resolveDevice(device: string | undefined): string {
  const d = device ?? 'cpu';
  if (d === 'cpu') return d;
  if (/^cuda(:\d+)?$/.test(d)) {
    if (!cuda.isAvailable()) {
      throw new OodgenError(`device '${d}' requested but this oodgen build has no usable CUDA ` +
        `(libtorch ${native.buildInfo().torchVersion}, cudaBuild=${native.buildInfo().cudaBuild}); ` +
        'build against a CUDA libtorch (README: CUDA) or use --device cpu');
    }
    checkCudaIndex(d, cuda.deviceCount());
    return d;
  }
  throw new OodgenError(`unknown device '${d}' (expected cpu, cuda or cuda:N)`);
}

export const setNumThreads = (n: number): void => {
  // The addon refuses more than 1024 (OpenMP would try to start them all at the next parallel op).
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new OodgenError(`thread count must be a positive integer up to 1024, got ${n}`);
  native.setNumThreads(n);
};
export const getNumThreads = (): number => native.getNumThreads();
export const liveTensors = (): number => native.liveTensors();
export const buildInfo = () => native.buildInfo();
