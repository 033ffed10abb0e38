// Time to load + preprocess all of Fashion-MNIST train (60,000 IDX images, gzip) to 32x32 float32 in [0,1].
// Run: node --import tsx bench/data-load.ts [spec] [repeats]
import { loadDataset } from '../src/data/registry.js';

const spec = process.argv[2] ?? 'fashion-mnist:train';
const repeats = Number(process.argv[3] ?? 5);
const times: number[] = [];
let shape: number[] = [];
for (let i = 0; i < repeats; i++) {
  const t0 = performance.now();
  const { set } = await loadDataset(spec, { imageSize: 32 });
  times.push(performance.now() - t0);
  shape = set.shape;
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ spec, shape, repeats, median_ms: Math.round(times[times.length >> 1]!), min_ms: Math.round(times[0]!), node: process.version }));
