export * from './creation.js';
export * from './elementwise.js';
export * from './activation.js';
export * from './reduction.js';
export * from './movement.js';
export * from './linalg.js';
export * from './nnf.js';
export * from './inplace.js';
