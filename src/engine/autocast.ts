// Automatic mixed precision (torch.autocast): inside `autocast(device, dtype, fn)` libtorch's Autocast dispatch
// keys run convolutions and matrix products in the lower precision and keep precision-sensitive ops (sums, exp,
// log, losses) in float32, exactly as in PyTorch: the region is libtorch's own autocast state, entered and left
// through the shim. Only the forward pass belongs inside (PyTorch's recipe); backward runs outside and produces
// gradients in each parameter's own dtype (float32), so the optimizer is untouched.
import { native } from './native.js';
import { dtypeCode } from './dtype.js';
import { OodgenError } from '../errors.js';

export type AutocastDtype = 'bfloat16' | 'float16';

/** The autocast device type of a device string: 'cpu' or 'cuda' (cuda:N included). */
export function autocastDevice(device: string): 'cpu' | 'cuda' {
  if (device === 'cpu') return 'cpu';
  if (/^cuda(:\d+)?$/.test(device)) return 'cuda';
  throw new OodgenError(`autocast: unknown device '${device}' (expected cpu, cuda or cuda:N)`);
}

/** Checks an autocast dtype for a device: CPU autocast is bfloat16 only (libtorch 1.13), CUDA takes both. */
export function checkAutocastDtype(device: string, dtype: string): AutocastDtype {
  const dev = autocastDevice(device);
  if (dtype !== 'bfloat16' && dtype !== 'float16') throw new OodgenError(`autocast: dtype must be bf16 or fp16, got '${dtype}'`);
  if (dev === 'cpu' && dtype !== 'bfloat16') throw new OodgenError(`autocast: on the CPU libtorch autocasts to bfloat16 only, got ${dtype}`);
  return dtype;
}

/** Runs fn with autocast on for `device`'s type; restores the previous state even when fn throws. */
export function autocast<T>(device: string, dtype: AutocastDtype, fn: () => T): T {
  const dev = autocastDevice(device);
  checkAutocastDtype(device, dtype);
  const [wasEnabled, prevDtype] = native.autocastEnter(dev, dtypeCode(dtype));
  try {
    return fn();
  } finally {
    native.autocastExit(dev, wasEnabled, prevDtype);
  }
}
