// The engine's public surface: tensors, ops, autograd, memory scopes, devices, random generators.
export { Tensor } from './tensor.js';
export * from './ops/index.js';
export { tidy, keep } from './scope.js';
export { noGrad, enableGrad, isGradEnabled, backward, clipGradNorm, gradsOf, clearGrads } from './autograd.js';
export { cuda, resolveDevice, checkCudaIndex, setNumThreads, getNumThreads, liveTensors, buildInfo } from './device.js';
export { Generator, manualSeed } from './random.js';
export { callOp, call, hasOp } from './dispatch.js';
export type { DType, TypedArray } from './dtype.js';
export { autocast, autocastDevice, checkAutocastDtype, type AutocastDtype } from './autocast.js';
export { toMemoryFormat, isChannelsLast, strides, checkMemoryFormat, type MemoryFormat } from './memory-format.js';
export { CudaGraph, cudaGraphsAvailable } from './cuda-graph.js';
