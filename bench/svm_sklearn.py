#!/usr/bin/python3
"""Reference timings for bench/svm.ts on the same data:
    npx tsx bench/svm.ts 20000 128 --dump /tmp/codes.f32 && /usr/bin/python3 bench/svm_sklearn.py /tmp/codes.f32 20000 128
LinearSVC = LIBLINEAR's dual CD (what svm.ts ports); SVC(kernel='linear') = native libsvm SMO, a lower
bound on libsvm-js (the same C++ compiled to wasm)."""
import sys, time
import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

path, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
X = StandardScaler().fit_transform(np.fromfile(path, dtype=np.float32).reshape(n, d).astype(np.float64))
y = np.where(np.arange(n) < n / 2, 1, -1)
for C in [0.01, 1]:
    t = time.perf_counter(); m = LinearSVC(loss="hinge", C=C, random_state=0).fit(X, y)
    print(f"LinearSVC C={C}: {1e3 * (time.perf_counter() - t):.0f} ms, n_iter={m.n_iter_}, acc={m.score(X, y):.4f}")
for m_ in [2000, 5000, n]:
    t = time.perf_counter(); m = SVC(kernel="linear", C=0.01).fit(X[:: n // m_][:m_], y[:: n // m_][:m_])
    print(f"SVC(kernel='linear') C=0.01 n={m_}: {1e3 * (time.perf_counter() - t):.0f} ms")
