#!/usr/bin/env bash
# Issue 15, item 5: the GPU training path's figures, in ONE device call (see scripts/gpu/README.md, "issue15.sh").
#   0. unpack Node (carried as .gpu/node.xz), a stub for sharp (nothing here writes PNGs),
#   1. build the addon against the machine's Python torch: shim.cc with CUDA graphs and c10d.cc with NCCL, each
#      falling back (graphs off / NCCL off) if that part does not compile, so the rest is still measured,
#   2. smoke: one eager and one CUDA-graph training step,
#   3. seconds per Fashion-MNIST epoch through the trainer (bench epoch): Soft-IntroVAE and the Gaussian VAE with
#      the authors' settings (z 32, batch 128, beta_neg 256), with and without channels_last / bf16 / CUDA graphs,
#   4. the reference training step, oodgen vs PyTorch alternating, batch 64 and 1024, with and without
#      channels_last / bf16 / CUDA graphs (bench train-step, bench/pytorch/dcgan_vae.py bench).
# Every result is one JSON line in $OUT/issue15.jsonl ({"case": ..., "result": {...}} or {"case": ..., "error": ...}),
# written as it comes, so a run cut short still returns what it measured; the cases run in order of importance and
# stop when BUDGET_S (default 470 s) is spent.
#
# DRY=1 runs every step on the CPU with tiny sizes (system node, /usr/bin/python3's torch or Debian's libtorch),
# so a typo fails here and not in the one GPU call. Usage:
#   GPU:  bash scripts/gpu/issue15.sh                       (after bash scripts/gpu/prepare.sh on the CPU machine)
#   CPU:  DRY=1 PYTHON=/usr/bin/python3 OUT=/tmp/i15 bash scripts/gpu/issue15.sh
set -uo pipefail
T0=$(date +%s)
OUT=${OUT:-/tmp/oodgen-issue15-out}
mkdir -p "$OUT"
DRY=${DRY:-0}
BUDGET_S=${BUDGET_S:-470}
ROOT=$(pwd)
W=${W:-/tmp/oodgen-issue15}
PY=${PYTHON:-python3}
mkdir -p "$W/bin" "$W/node_modules/sharp"
RES="$OUT/issue15.jsonl"
log() { echo "[$(date +%T) +$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/run.log"; }
left() { echo $(( BUDGET_S - ($(date +%s) - T0) )); }

# record LABEL TIMEOUT_S CMD...: runs CMD, keeps its last stdout line if it is JSON.
record() {
  local label=$1 limit=$2; shift 2
  if [ "$(left)" -lt 10 ]; then echo "{\"case\":\"$label\",\"error\":\"skipped: budget spent\"}" >> "$RES"; return; fi
  [ "$limit" -gt "$(left)" ] && limit=$(left)
  local line rc
  line=$(timeout "$limit" "$@" 2>>"$OUT/stderr.log" | tail -1)
  rc=$?
  if [ "${line:0:1}" = "{" ]; then
    echo "{\"case\":\"$label\",\"result\":$line}" >> "$RES"
    log "$label: ok"
  else
    echo "{\"case\":\"$label\",\"error\":\"exit $rc (stderr.log)\"}" >> "$RES"
    log "$label: FAILED (exit $rc)"; echo "--- $label" >> "$OUT/stderr.log"
  fi
}

# ---- 0. Node and the bundle -------------------------------------------------------------------------------------
if [ "$DRY" = 1 ]; then
  ln -sf "$(command -v node)" "$W/bin/node"
else
  xz -dc .gpu/node.xz > "$W/bin/node" && chmod +x "$W/bin/node"
fi
export PATH=$W/bin:$PATH
if [ -f .gpu/oodgen.mjs.xz ]; then xz -dc .gpu/oodgen.mjs.xz > "$W/oodgen.mjs"; else cp .gpu/oodgen.mjs "$W/"; fi
cat > "$W/node_modules/sharp/package.json" <<'J'
{ "name": "sharp", "version": "0.0.0-stub", "main": "index.js" }
J
cat > "$W/node_modules/sharp/index.js" <<'J'
module.exports = function sharp() { throw new Error('sharp (PNG output) is not installed on this GPU machine; issue15.sh writes JSON only'); };
J
log "node $(node --version); $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
$PY -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tee -a "$OUT/run.log"

# ---- 1. the addon ------------------------------------------------------------------------------------------------
TORCH=$($PY -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null)
if [ -n "$TORCH" ] && [ -f "$TORCH/include/ATen/ATen.h" ]; then
  INC=(-I"$TORCH/include" -I"$TORCH/include/torch/csrc/api/include"); LIB=$TORCH/lib
  ABI=$($PY -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
else  # Debian's libtorch-dev (the CPU dry run)
  INC=(-I/usr/include -I/usr/include/torch/csrc/api/include); LIB=/usr/lib/$(gcc -dumpmachine); ABI=1
fi
INC+=(-I.gpu/include)
source "$(dirname "${BASH_SOURCE[0]}")/build-addon.sh"
build_addon
node -e 'const n = require(process.env.OODGEN_NATIVE); const b = n.buildInfo(); console.log(JSON.stringify({ torch: b.torchVersion, cudaBuild: b.cudaBuild, cudaGraphs: b.cudaGraphs, ...n.c10dBackends(), gpus: n.cudaDeviceCount() }))' \
  | tee -a "$OUT/run.log" | sed 's/^/{"case":"addon","result":/; s/$/}/' >> "$RES"
log "addon built"

# ---- sizes --------------------------------------------------------------------------------------------------------
OOD=(node "$W/oodgen.mjs")
# .gpu/data holds the training set xz-compressed (prepare.sh); restore it where OODGEN_DATA points.
bash scripts/gpu/unpack-data.sh "$W/data" && export OODGEN_DATA=$W/data
if [ "$DRY" = 1 ]; then
  DEV=cpu; STEPS=2; WARM=1; BATCHES="4 8"; EPOCH_ARGS=(--limit 256 --epochs 1); ROUNDS=1
  AC=bf16; GRAPH_OK=0     # the CPU runs the refusal instead of a capture
else
  DEV=cuda; STEPS=${STEPS:-60}; WARM=${WARM:-15}; BATCHES="64 1024"; EPOCH_ARGS=(--epochs 2); ROUNDS=${ROUNDS:-2}
  AC=bf16
  # The graph cases only if the addon has them (the build may have fallen back) and sees a GPU.
  GRAPH_OK=$(node -e 'const n = require(process.env.OODGEN_NATIVE); console.log(n.buildInfo().cudaGraphs && n.cudaDeviceCount() > 0 ? 1 : 0)')
  [ "$GRAPH_OK" = 1 ] || log "no CUDA graphs in this addon: the --cuda-graph cases are skipped"
fi

# ---- 2. smoke -----------------------------------------------------------------------------------------------------
record smoke-step 60 "${OOD[@]}" bench train-step --device $DEV --steps 2 --warmup 1 --batch 8 --json
if [ $GRAPH_OK = 1 ]; then
  record smoke-step-graph 60 "${OOD[@]}" bench train-step --device $DEV --steps 2 --warmup 1 --batch 8 --cuda-graph --json
else
  refusal=$("${OOD[@]}" bench train-step --device $DEV --steps 2 --batch 8 --cuda-graph --json 2>&1)
  if grep -q -- '--cuda-graph needs --device cuda' <<< "$refusal"; then log "cuda-graph refusal on cpu: ok"; else log "cuda-graph refusal on cpu: FAILED: $refusal"; fi
fi

# ---- 3. seconds per epoch (the goals: sintro <= 5 s, vae <= 1 s) -----------------------------------------------------
EP=("${OOD[@]}" bench epoch --device $DEV --data fashion-mnist:train --batch-size 128 --z-dim 32 "${EPOCH_ARGS[@]}")
# QUICK=1 (a call with only a few minutes of device time left): the headline figures first, the eager epoch of each
# model and one round of the plain training step against PyTorch at both batch sizes (tagged r0), then the rest.
if [ "${QUICK:-0}" = 1 ]; then
  record epoch-sintro 120 "${EP[@]}" --model sintro
  record epoch-vae 60 "${EP[@]}" --model vae
  for b in $BATCHES; do
    record "step-b$b-r0-oodgen" 60 "${OOD[@]}" bench train-step --device $DEV --steps $STEPS --warmup $WARM --batch $b --json
    record "step-b$b-r0-pytorch" 60 $PY bench/pytorch/dcgan_vae.py bench --device $DEV --steps $STEPS --warmup $WARM --batch $b --json
  done
fi
record epoch-sintro 120 "${EP[@]}" --model sintro
record epoch-vae 60 "${EP[@]}" --model vae
record epoch-sintro-cl-bf16 120 "${EP[@]}" --model sintro --channels-last --autocast $AC
if [ $GRAPH_OK = 1 ]; then
  record epoch-sintro-graph 120 "${EP[@]}" --model sintro --cuda-graph
  record epoch-vae-graph 60 "${EP[@]}" --model vae --cuda-graph
  record epoch-sintro-all 120 "${EP[@]}" --model sintro --channels-last --autocast $AC --cuda-graph
  record epoch-vae-all 60 "${EP[@]}" --model vae --channels-last --autocast $AC --cuda-graph
fi
record epoch-vae-cl-bf16 60 "${EP[@]}" --model vae --channels-last --autocast $AC
record epoch-sintro-host-batches 120 "${EP[@]}" --model sintro --no-resident-data

# ---- 4. training step, oodgen vs PyTorch (ratio goal <= 1.0) -----------------------------------------------------------
VARIANTS=("" "--channels-last" "--autocast $AC" "--channels-last --autocast $AC")
[ $GRAPH_OK = 1 ] && VARIANTS+=("--cuda-graph" "--channels-last --autocast $AC --cuda-graph")
for r in $(seq 1 $ROUNDS); do
  for b in $BATCHES; do
    for v in "${VARIANTS[@]}"; do
      tag="step-b$b${v:+-}$(echo "$v" | tr -d ' -' )-r$r"
      # shellcheck disable=SC2086
      record "$tag-oodgen" 60 "${OOD[@]}" bench train-step --device $DEV --steps $STEPS --warmup $WARM --batch $b $v --json
      # shellcheck disable=SC2086
      record "$tag-pytorch" 60 $PY bench/pytorch/dcgan_vae.py bench --device $DEV --steps $STEPS --warmup $WARM --batch $b $v --json
    done
  done
done

cp "$W"/shim.log "$W"/c10d.log "$OUT/" 2>/dev/null
log "done: $(wc -l < "$RES") results in $RES"
