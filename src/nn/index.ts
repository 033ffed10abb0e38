export { Module } from './module.js';
export { Linear, Conv2d, ConvTranspose2d } from './layers.js';
export { BatchNorm1d, BatchNorm2d, setBatchStatsMode, type BatchStatsMode } from './batchnorm.js';
export { ReLU, LeakyReLU, Sigmoid, Tanh, Softplus, Identity, Flatten, Unflatten } from './activations.js';
export { Sequential } from './sequential.js';
