// Bootstrap speed: 1000 replicates of 20k ID + 20k OoD scores (a benchmark, not a test).
// Run: npx tsx bench/bootstrap.ts
import { bootstrapMetrics } from '../src/eval/metrics.js';
import { mulberry32 } from '../src/eval/prng.js';

const rand = mulberry32(1);
const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const id = Float64Array.from({ length: 20000 }, normal);
const ood = Float64Array.from({ length: 20000 }, () => normal() + 0.5);
const t0 = performance.now();
bootstrapMetrics(id, ood, { reps: 1000, seed: 0 });
console.log(JSON.stringify({ reps: 1000, nId: 20000, nOod: 20000, ms: Math.round(performance.now() - t0) }));
