import { call } from '../engine/dispatch.js';
import { dtypeCode, type DType } from '../engine/dtype.js';
import type { Tensor } from '../engine/tensor.js';

/** Uninitialised storage for a parameter that an init function fills next. */
export const empty = (shape: number[], dtype: DType = 'float32'): Tensor => call('aten::empty.memory_format', shape, dtypeCode(dtype), null, null, null, null);
