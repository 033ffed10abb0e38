#!/usr/bin/env bash
# One GPU session, prepared here and run there in a single call (see scripts/gpu/README.md):
#   1. unpack Node, build the addon against the machine's Python torch (CUDA),
#   2. op fixtures on CUDA (forward + gradient vs PyTorch goldens),
#   3. training-step benchmark, oodgen and PyTorch alternating,
#   4. Soft-IntroVAE on CelebA 32x32 for a fixed wall-clock budget.
# Everything the CPU side needs comes back under $OUT (at most 8 files).
set -uo pipefail
OUT=${OUT:-/tmp/oodgen-gpu-out}
mkdir -p "$OUT"
TRAIN_MIN=${TRAIN_MIN:-4}
ROOT=$(pwd)
W=/tmp/oodgen-gpu
mkdir -p $W/bin $W/node_modules
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/run.log"; }

log "unpack node"
xz -dc .gpu/node.xz > $W/bin/node && chmod +x $W/bin/node
export PATH=$W/bin:$PATH
tar xJf .gpu/sharp-modules.tar.xz -C $W/node_modules
cp .gpu/oodgen.mjs .gpu/ops-test.mjs $W/
node --version | tee -a "$OUT/run.log"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$OUT/run.log"

log "build addon"
TORCH=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')
ABI=$(python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee -a "$OUT/run.log"
if ! g++ -std=c++17 -O2 -shared -fPIC native/src/shim.cc native/src/c10d.cc -o $W/oodgen_native.node \
    -I.gpu/include -I$TORCH/include -I$TORCH/include/torch/csrc/api/include \
    -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DOODGEN_CUDA=1 -D_GLIBCXX_USE_CXX11_ABI=$ABI \
    -L$TORCH/lib -Wl,-rpath,$TORCH/lib -Wl,--no-as-needed -ltorch -ltorch_cpu -ltorch_cuda -lc10 -lc10_cuda \
    > $W/build.log 2>&1; then
  log "BUILD FAILED"; tail -60 $W/build.log | tee -a "$OUT/run.log"; exit 3
fi
export OODGEN_NATIVE=$W/oodgen_native.node
OOD="node $W/oodgen.mjs"
$OOD bench train-step --device cuda --steps 5 --warmup 2 --json | tee -a "$OUT/run.log" || { log "SMOKE FAILED"; exit 4; }

if [ "${ONLY_BENCH:-0}" = 1 ]; then
  for r in 1 2 3 4; do
    $OOD bench train-step --device cuda --steps 300 --warmup 30 --json >> "$OUT/bench.jsonl"
    python3 bench/pytorch/dcgan_vae.py bench --device cuda --steps 300 --warmup 30 --json >> "$OUT/bench.jsonl"
  done
  cat "$OUT/bench.jsonl"; log "done (bench only)"; exit 0
fi

if [ -n "${FMNIST_SINTRO:-}" ]; then
  # Soft-IntroVAE with the authors' MNIST-like settings on a 20k-image Fashion-MNIST subset (32x32).
  RUN=$W/run-sintro-fmnist
  $OOD train --model sintro --data $ROOT/.gpu/fmnist32-train20k.safetensors --channels 1 --device cuda --patience 0 \
    --time-budget "$TRAIN_MIN" --z-dim 32 --batch-size 128 --lr 2e-4 --seed 0 --progress json --out $RUN > $W/train.log 2>&1
  log "train exit $?"; tail -3 $W/train.log | tee -a "$OUT/run.log"
  for f in config.json model.safetensors log.jsonl samples.png reconstructions.png; do
    [ -f "$RUN/$f" ] && cp "$RUN/$f" "$OUT/sintro-fmnist-$f"
  done
  log "done (fmnist sintro)"; exit 0
fi

log "op fixtures on cuda"
OODGEN_TEST_DEVICE=cuda OODGEN_TEST_ATOL_SCALE=${ATOL_SCALE:-50} OODGEN_FIXTURES=$ROOT/tests/fixtures/ \
  timeout 120 node --test $W/ops-test.mjs > "$OUT/ops-cuda.txt" 2>&1
grep -E '^# (pass|fail)' "$OUT/ops-cuda.txt" | tee -a "$OUT/run.log"
grep -E '^not ok' "$OUT/ops-cuda.txt" | head -20 | tee -a "$OUT/run.log"

log "train-step benchmark, alternating"
for r in 1 2 3; do
  $OOD bench train-step --device cuda --steps 300 --warmup 30 --json >> "$OUT/bench.jsonl"
  python3 bench/pytorch/dcgan_vae.py bench --device cuda --steps 300 --warmup 30 --json >> "$OUT/bench.jsonl"
done
cat "$OUT/bench.jsonl" | tee -a "$OUT/run.log"

log "Soft-IntroVAE on CelebA 32x32, $TRAIN_MIN min"
RUN=$W/run-sintro-celeba
$OOD train --model sintro --data $ROOT/.gpu/celeba32-train.safetensors --channels 3 --device cuda --patience 0 --time-budget "$TRAIN_MIN" \
  --z-dim 128 --batch-size 32 --lr 2e-4 --seed 0 --progress json --out $RUN > $W/train.log 2>&1
log "train exit $?"; tail -8 $W/train.log | tee -a "$OUT/run.log"
# at most 8 files come back: run.log, ops-cuda.txt, bench.jsonl + these five
for f in config.json model.safetensors log.jsonl samples.png reconstructions.png; do
  [ -f "$RUN/$f" ] && cp "$RUN/$f" "$OUT/sintro-celeba-$f"
done
ls -la "$OUT"
log "done"
