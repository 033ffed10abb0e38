// Timing of the linear SVM (src/analysis/svm.ts) on 20,000 x 128 synthetic codes, the size of the
// seed's CelebA/SVHN experiment (10,000 ID + 10,000 OoD). Run: npx tsx bench/svm.ts [n] [d]
// Two regimes: overlapping Gaussians (many support vectors, the slow case for dual CD) and a
// separable-by-construction set. --dump PATH writes the overlapping set as raw float32 for
// bench/svm_sklearn.py, which times sklearn's LinearSVC (LIBLINEAR) and SVC(kernel='linear')
// (libsvm, the algorithm libsvm-js compiles to wasm) on the same data.
import { writeFileSync } from 'node:fs';
import { trainLinearSvm } from '../src/analysis/svm.js';
import { gaussian, mulberry32 } from '../src/analysis/matrix.js';

const args = process.argv.slice(2);
const dumpAt = args.indexOf('--dump');
const dump = dumpAt >= 0 ? args.splice(dumpAt, 2)[1] : undefined;
const n = Number(args[0] ?? 20000), d = Number(args[1] ?? 128);

function codes(kind: 'overlap' | 'separable'): { X: Float32Array; y: Int8Array } {
  const g = gaussian(mulberry32(kind === 'overlap' ? 1 : 2));
  const X = new Float32Array(n * d), y = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const yi = i < n / 2 ? 1 : -1;
    y[i] = yi;
    for (let j = 0; j < d; j++) X[i * d + j] = g() + (kind === 'overlap' ? yi * 0.1 : 0); // ~ 1.1 sigma apart along the diagonal
    if (kind === 'separable') X[i * d] = yi * (1 + Math.abs(g()));
  }
  return { X, y };
}

for (const kind of ['overlap', 'separable'] as const) {
  const { X, y } = codes(kind);
  if (dump && kind === 'overlap') writeFileSync(dump, Buffer.from(X.buffer));
  for (const C of [0.01, 1]) {
    const t0 = performance.now();
    const svm = trainLinearSvm(X, n, d, y, { C, seed: 0 });
    const ms = performance.now() - t0;
    const pred = svm.predict(X, n);
    let ok = 0;
    for (let i = 0; i < n; i++) if (pred[i] === y[i]) ok++;
    console.log(`${kind.padEnd(9)} n=${n} d=${d} C=${C}: ${ms.toFixed(0)} ms, ${svm.iterations} passes, converged=${svm.converged}, nSV=${svm.nSupport}, train acc=${(ok / n).toFixed(4)}`);
  }
}
