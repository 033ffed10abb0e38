// Memory formats (torch.memory_format). channels_last stores a (N, C, H, W) tensor as N, H, W, C in memory
// (strides (HWC, 1, WC, C)); cuDNN's and oneDNN's convolutions are faster in it, and every op output follows its
// input's format, so converting the input and the conv weights once makes a whole DCGAN net run channels_last.
import { call, callOp } from './dispatch.js';
import type { Tensor } from './tensor.js';
import { OodgenError } from '../errors.js';

export type MemoryFormat = 'contiguous' | 'channels_last';

/** c10::MemoryFormat codes (c10/core/MemoryFormat.h): Contiguous 0, Preserve 1, ChannelsLast 2. */
const CODES: Record<MemoryFormat, number> = { contiguous: 0, channels_last: 2 };

export function checkMemoryFormat(f: string): MemoryFormat {
  if (f !== 'contiguous' && f !== 'channels_last') throw new OodgenError(`unknown memory format '${f}' (expected contiguous or channels_last)`);
  return f;
}

/** x in the given memory format (a new tensor, or x's own storage when it already is; the caller owns the result). */
export function toMemoryFormat(x: Tensor, f: MemoryFormat): Tensor {
  if (f === 'channels_last' && x.shape.length !== 4) {
    throw new OodgenError(`channels_last needs a 4-d (N, C, H, W) tensor, got shape [${x.shape.join(', ')}]`);
  }
  return call('aten::contiguous', x, CODES[f]);
}

/** The strides of x, in elements. */
export function strides(x: Tensor): number[] {
  return x.shape.map((_, d) => callOp('aten::stride.int', [x, d]) as number);
}

/**
 * Whether a 4-d tensor is laid out channels_last: dense with strides in the order C, W, H, N (c10's
 * is_channels_last_strides rule; a dimension of size 1 may have any stride).
 */
export function isChannelsLast(x: Tensor): boolean {
  if (x.shape.length !== 4) return false;
  const s = strides(x);
  let expected = 1;
  for (const d of [1, 3, 2, 0]) {
    const n = x.shape[d]!;
    if (n !== 1 && s[d] !== expected) return false;
    expected *= n;
  }
  return true;
}
