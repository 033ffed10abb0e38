// Seeded uniform numbers for bootstrap resampling and plot subsampling: data/rng.ts (the one PRNG module).
export { mulberry32, sampleIndices } from '../data/rng.js';
