#!/usr/bin/env bash
# Issue 13: the rest of the Fashion-MNIST / CelebA zoo, trained on one lent GPU in ONE device call (see
# scripts/gpu/README.md, "zoo.sh"). Prepared on the CPU machine by scripts/gpu/prepare.sh (.gpu/: node, headers,
# the CLI bundle, Fashion-MNIST and CelebA 32x32 as xz-compressed uint8 safetensors).
#   0. unpack Node, a stub for sharp (train --no-grids: `oodgen sample` draws the grids back on the CPU machine),
#      the data into $W/data/<name>/<split>.safetensors (read as `fashion-mnist:train`, `celeba:train` through the
#      tensor-folder source of src/data/sources.ts),
#   1. build the addon against the machine's Python torch (as issue15.sh; CUDA graphs / NCCL fall back to off),
#   2. train the models concurrently on the one GPU (scripts/zoo-train.sh's exact commands plus --device cuda;
#      data resident on the device is the GPU default and does not change the model),
#   3. at BUDGET_S minus the packing margin, SIGINT to every run still training: the trainer finishes its step,
#      saves model, optimizer state and state.json, and the run continues on the CPU with
#      `oodgen train --out RUN --resume` (scripts/gpu/zoo-import.sh, then scripts/zoo-train.sh),
#   4. pack each run folder (weights, best weights, optimizer state, config, log, state, train output) as one
#      NAME.tar in $OUT, split into NAME.tar.partNN pieces of at most PART_MIB when larger, plus zoo.jsonl (one
#      summary line per model) and run.log. At most 8 files come back: the script checks the count and sizes.
#
# DRY=1 runs every step on this CPU at tiny sizes with the locally built addon and the system node, then unpacks
# what it packed, resumes one run with --resume and exports one with scripts/zoo-export.mjs (into a scratch zoo):
#   GPU:  OUT=$OUT bash scripts/gpu/zoo.sh               (after bash scripts/gpu/prepare.sh on the CPU machine)
#   CPU:  DRY=1 OUT=/tmp/gz bash scripts/gpu/zoo.sh
set -uo pipefail
T0=$(date +%s)
OUT=${OUT:-/tmp/oodgen-zoo-out}
DRY=${DRY:-0}
BUDGET_S=${BUDGET_S:-$([ "$DRY" = 1 ] && echo 240 || echo 540)}   # everything packed by then; the device call's timeout_s is 590
PACK_S=${PACK_S:-70}        # margin kept for the SIGINT checkpoints (<= 30 s) and the tar files
PART_MIB=${PART_MIB:-15}    # a returned file is at most 16 MiB
MAX_FILES=8
ROOT=$(pwd)
W=${W:-/tmp/oodgen-zoo$([ "$DRY" = 1 ] && echo -dry)}
rm -rf "$W" && mkdir -p "$W/bin" "$W/node_modules/sharp" "$W/data" "$W/runs" "$OUT"
# A device call's $OUT starts empty; a dry run's may hold the last dry run's files.
[ "$DRY" = 1 ] && rm -f "$OUT"/*.tar "$OUT"/*.tar.part[0-9][0-9] "$OUT/zoo.jsonl" "$OUT/run.log"
log() { echo "[$(date +%T) +$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/run.log"; }
left() { echo $(( BUDGET_S - ($(date +%s) - T0) )); }

# ---- 0. Node, the bundle, the data ---------------------------------------------------------------------------------
if [ "$DRY" = 1 ]; then ln -sf "$(command -v node)" "$W/bin/node"; else xz -dc .gpu/node.xz > "$W/bin/node" && chmod +x "$W/bin/node"; fi
export PATH=$W/bin:$PATH
if [ -f .gpu/oodgen.mjs.xz ]; then xz -dc .gpu/oodgen.mjs.xz > "$W/oodgen.mjs"; else cp .gpu/oodgen.mjs "$W/"; fi
cat > "$W/node_modules/sharp/package.json" <<'J'
{ "name": "sharp", "version": "0.0.0-stub", "main": "index.js" }
J
cat > "$W/node_modules/sharp/index.js" <<'J'
module.exports = function sharp() { throw new Error('sharp (PNG grids) is not installed on this GPU machine; the run folder is complete: draw grids on the CPU machine with `oodgen sample --checkpoint RUN`'); };
J
bash scripts/gpu/unpack-data.sh "$W/data" || { log "unpacking .gpu/data failed"; exit 2; }
export OODGEN_DATA=$W/data
log "node $(node --version); data: $(cd "$W/data" && find . -type f -o -type l | sort | tr '\n' ' ')"
log "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"

# ---- 1. the addon --------------------------------------------------------------------------------------------------
if [ "$DRY" = 1 ]; then
  export OODGEN_NATIVE=${OODGEN_NATIVE:-$ROOT/native/build/Release/oodgen_native.node}
  [ -f "$OODGEN_NATIVE" ] || { log "no local addon at $OODGEN_NATIVE (npm run build:native)"; exit 3; }
else
  PY=${PYTHON:-python3}
  TORCH=$($PY -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null)
  if [ -n "$TORCH" ] && [ -f "$TORCH/include/ATen/ATen.h" ]; then
    INC=(-I"$TORCH/include" -I"$TORCH/include/torch/csrc/api/include" -I.gpu/include); LIB=$TORCH/lib
    ABI=$($PY -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
  else  # Debian's libtorch-dev: only to check this branch on the CPU machine (DRY=0 there fails at --device cuda)
    INC=(-I/usr/include -I/usr/include/torch/csrc/api/include -I.gpu/include); LIB=/usr/lib/$(gcc -dumpmachine); ABI=1
  fi
  source "$(dirname "${BASH_SOURCE[0]}")/build-addon.sh"
  build_addon
fi
log "addon: $(node -e 'const n = require(process.env.OODGEN_NATIVE); const b = n.buildInfo(); console.log(JSON.stringify({ torch: b.torchVersion, cudaBuild: b.cudaBuild, gpus: n.cudaDeviceCount() }))')"

# ---- 2. the models, concurrently -------------------------------------------------------------------------------------
# The commands of scripts/zoo-train.sh (queue a: fm-vae-cat, fm-ae, fm-vae-bern; queue c: celeba-vae; queue sintro:
# fm-sintro; queue glow: fm-glow-bg; queue fig31: fm-glow-ens0..4), so a run that does not finish here continues there
# with --resume.
FM=(--data fashion-mnist:train --z-dim 32 --batch-size 64 --epochs 200)
GLOW_ENS=(--model glow --batch-size 64 --max-steps 3000 --patience 0 --flow-levels 3 --flow-steps 4 --flow-width 64 --data fashion-mnist:train)
declare -A CMD=(
  [fm-vae-cat]="--model vae --decoder categorical ${FM[*]} --width 32 --patience 5"
  [fm-ae]="--model ae ${FM[*]} --width 32 --patience 5"
  [fm-vae-bern]="--model vae --decoder bernoulli ${FM[*]} --width 32 --patience 5"
  [fm-sintro]="--model sintro --data fashion-mnist:train --epochs 200 --patience 5"
  [celeba-vae]="--model vae --decoder gaussian --sigma2 learned --data celeba:train --z-dim 128 --width 32 --batch-size 64 --epochs 200 --patience 5"
  [fm-glow-bg]="--model glow --data fashion-mnist:train --batch-size 64 --max-steps 6000 --patience 0 --mutate 0.2 --max-grad-norm 100"
)
for s in 0 1 2 3 4; do CMD[fm-glow-ens$s]="${GLOW_ENS[*]} --seed $s"; done
# A job is one model, or several (the small ensemble Glows) trained one after another in one slot; each job comes back
# as one tar. The models whose data was carried (prepare.sh: Fashion-MNIST, or GPU_DATA=celeba), the slowest first
# (Soft-IntroVAE: three passes per step). JOBS="a b|c d" overrides (models of a job joined by spaces, jobs by '|').
if [ -z "${JOBS:-}" ]; then
  JOBS=""
  [ -d "$W/data/fashion-mnist" ] && JOBS="fm-sintro|fm-vae-cat|fm-ae|fm-vae-bern|fm-glow-bg|fm-glow-ens0 fm-glow-ens1 fm-glow-ens2 fm-glow-ens3 fm-glow-ens4"
  [ -d "$W/data/celeba" ] && JOBS="$JOBS|celeba-vae"
  JOBS=${JOBS#|}
  [ -n "$JOBS" ] || { log "no training data in .gpu/data (bash scripts/gpu/prepare.sh)"; exit 2; }
  # Not the ones already in the committed zoo (trained on the CPU meanwhile): the GPU's minutes go to the rest.
  # .gpu/in-zoo.txt (prepare.sh) lists them too, for a call that leaves zoo/ behind to fit in 64 MiB. (The dry run
  # trains the same models as the GPU call.)
  inzoo=" $(ls zoo 2>/dev/null | tr '\n' ' ') $(tr '\n' ' ' < .gpu/in-zoo.txt 2>/dev/null) "
  keep=""; IFS='|' read -ra js <<< "$JOBS"
  for j in "${js[@]}"; do
    k=""; for m in $j; do if [[ $inzoo == *" $m "* ]]; then log "$m: already in zoo/, not trained here"; else k="$k $m"; fi; done
    [ -n "$k" ] && keep="$keep|${k# }"
  done
  JOBS=${keep#|}
  [ -n "$JOBS" ] || { log "every model of this data is already in zoo/; nothing to train"; exit 2; }
fi
IFS='|' read -ra JOB <<< "$JOBS"
MODELS=$(echo "${JOB[*]}")
if [ "$DRY" = 1 ]; then
  DEV=cpu; THREADS=1; THREADS_SMALL=1
  # Tiny: 512 images (460 train, 52 validation). fm-sintro runs until the budget's SIGINT stops it mid-run (the
  # path of a GPU run that does not converge; patience 50 so early stopping on this noisy tiny set cannot end it
  # first); fm-vae-cat may end by early stopping (patience 1, at most 6 epochs); the others stop at 2 epochs, the
  # Glows at a few steps (the ensemble's members one after another, the last ones stopped or never started by the
  # budget: the path of a job the budget cuts).
  TINY=(--limit 512 --val-limit 52)
  declare -A EXTRA=([fm-sintro]="--patience 50" [fm-vae-cat]="--patience 1 --epochs 6" [fm-ae]="--epochs 2" [fm-vae-bern]="--epochs 2" [celeba-vae]="--epochs 2"
    [fm-glow-bg]="--max-steps 8 --flow-levels 2 --flow-steps 2 --flow-width 16")
  for s in 0 1 2 3 4; do EXTRA[fm-glow-ens$s]="--max-steps $((30 + 10 * s)) --flow-levels 2 --flow-steps 2 --flow-width 16"; done
else
  DEV=cuda; THREADS=${THREADS:-3}; THREADS_SMALL=2; TINY=()
  declare -A EXTRA=()
fi
STOP_AT=$(( BUDGET_S - PACK_S ))
# One job: its models in turn; each model's node pid in $W/runs/NAME.pid (for the budget's SIGINT) and exit code in
# NAME.rc. A job stops starting models once $W/stop exists.
run_job() {
  local m th
  for m in "$@"; do
    [ -e "$W/stop" ] && { log "$m: not started (budget)"; break; }
    mkdir -p "$W/runs/$m"
    th=$THREADS; [ "$m" = fm-sintro ] || th=$THREADS_SMALL
    # shellcheck disable=SC2086
    node "$W/oodgen.mjs" --threads "$th" train ${CMD[$m]} --device $DEV --no-grids "${TINY[@]}" ${EXTRA[$m]:-} --progress json --out "$W/runs/$m" \
      > "$W/runs/$m/gpu-train.out" 2>&1 &
    echo $! > "$W/runs/$m.pid"
    log "start $m (pid $!, --threads $th): train ${CMD[$m]} --device $DEV --no-grids ${TINY[*]} ${EXTRA[$m]:-}"
    wait $!; echo $? > "$W/runs/$m.rc"
  done
}
JPID=()
for j in "${JOB[@]}"; do
  # shellcheck disable=SC2086
  run_job $j &
  JPID+=($!)
done
# Wait for the jobs, or at STOP_AT stop them: no job starts another model, and every model still training gets SIGINT
# (the trainer saves a resumable checkpoint and exits).
jobs_running() { local n=0 p; for p in "${JPID[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done; echo $n; }
training() { local m; for m in $MODELS; do [ -f "$W/runs/$m.pid" ] && [ ! -f "$W/runs/$m.rc" ] && echo "$m"; done; }
while [ "$(jobs_running)" -gt 0 ]; do
  if [ $(( $(date +%s) - T0 )) -ge $STOP_AT ]; then
    touch "$W/stop"
    log "budget: SIGINT to $(training | tr '\n' ' ')"
    for m in $(training); do kill -INT "$(cat "$W/runs/$m.pid")" 2>/dev/null; done
    for _ in $(seq 1 30); do [ "$(jobs_running)" = 0 ] && break; sleep 1; done
    for m in $(training); do log "$m: no exit 30 s after SIGINT; killed (its last periodic checkpoint stays)"; kill -KILL "$(cat "$W/runs/$m.pid")" 2>/dev/null; done
    break
  fi
  sleep 2
done
for p in "${JPID[@]}"; do wait "$p" 2>/dev/null; done
declare -A RC=()
for m in $MODELS; do
  [ -d "$W/runs/$m" ] || continue
  RC[$m]=$(cat "$W/runs/$m.rc" 2>/dev/null || echo 137)
  log "$m: exit ${RC[$m]}; $(tail -c 400 "$W/runs/$m/gpu-train.out" | grep -E '^\{"out"' | tail -1)"
done

# ---- 3. pack ---------------------------------------------------------------------------------------------------------
# One tar per job (named for its first model, less a trailing seed digit: fm-glow-ens.tar holds fm-glow-ens0..4),
# split into PART_MIB pieces when larger. A run that ended (state.json done: early stopping or its step cap) leaves its
# optimizer state behind: nothing resumes it (scripts/zoo-train.sh skips finished runs), and it keeps the call's
# files under 64 MiB.
: > "$OUT/zoo.jsonl"
for j in "${JOB[@]}"; do
  # shellcheck disable=SC2086
  set -- $j
  tarname=$1; [ $# -gt 1 ] && tarname=${1%[0-9]}
  dirs=(); for m in "$@"; do [ -d "$W/runs/$m" ] && dirs+=("$m"); done
  [ ${#dirs[@]} -gt 0 ] || continue
  excl=()
  for m in "${dirs[@]}"; do
    [ -f "$W/runs/$m/state.json" ] && [ "$(node -p "require('$W/runs/$m/state.json').done")" = true ] && excl+=(--exclude="$m/optimizer.safetensors")
  done
  tar cf "$OUT/$tarname.tar" "${excl[@]}" -C "$W/runs" "${dirs[@]}"
  size=$(stat -c %s "$OUT/$tarname.tar")
  parts=1
  if [ "$size" -gt $(( PART_MIB * 1048576 )) ]; then
    split -b "${PART_MIB}M" -d -a 2 "$OUT/$tarname.tar" "$OUT/$tarname.tar.part" && rm "$OUT/$tarname.tar"
    parts=$(ls "$OUT/$tarname.tar.part"* | wc -l)
  fi
  for m in "${dirs[@]}"; do
    node "$ROOT/scripts/gpu/zoo-summary.mjs" "$W/runs/$m" "$m" "${RC[$m]}" "$size" "$parts" "$tarname" >> "$OUT/zoo.jsonl" \
      || echo "{\"model\":\"$m\",\"error\":\"no summary (exit ${RC[$m]}; see gpu-train.out in $tarname.tar)\"}" >> "$OUT/zoo.jsonl"
  done
done
cat "$OUT/zoo.jsonl" | tee -a "$OUT/run.log"
n=$(find "$OUT" -maxdepth 1 -type f | wc -l)
big=$(find "$OUT" -maxdepth 1 -type f -size +16777215c | wc -l)
total=$(du -sb "$OUT" | cut -f1)
log "packed: $n files in $OUT (at most $MAX_FILES), $big over 16 MiB; $total bytes (at most 64 MiB); $(left) s of BUDGET_S left"
ls -l "$OUT" | tee -a "$OUT/run.log"
[ "$n" -le $MAX_FILES ] && [ "$big" = 0 ] && [ "$total" -le 67108864 ] || { log "PACKING CHECK FAILED: more than $MAX_FILES files, one over 16 MiB or over 64 MiB in all"; exit 5; }
ok=0; for m in $MODELS; do [ -f "$W/runs/$m/state.json" ] && ok=$((ok + 1)); done
[ $ok -gt 0 ] || { log "NO RUN TRAINED: every model failed before its first checkpoint (zoo.jsonl; gpu-train.out in each tar)"; exit 4; }

# ---- 4. DRY: the way back (unpack, resume one run on the CPU, export one) ------------------------------------------
if [ "$DRY" = 1 ]; then
  R=$W/imported; Z=$W/zoo-scratch
  mkdir -p "$Z/scripts" && cp scripts/zoo-export.mjs "$Z/scripts/"   # exports into $Z/zoo, not the checkout's zoo/
  ZOO_EXPORT=$Z/scripts/zoo-export.mjs bash scripts/gpu/zoo-import.sh "$OUT" "$R" 2>&1 | tee -a "$OUT/run.log"
  # Resume one run that did not end (fm-sintro, stopped by the budget, when it trained) for two more
  # steps with the checkout's CLI; --epochs lifts a tiny run's epoch cap (stop conditions may change on resume).
  pick=""; for m in $MODELS; do [ -f "$R/$m/state.json" ] || continue
    [ "$(node -p "require('$R/$m/state.json').done")" = true ] || { pick=$m; break; }; done
  [ -n "$pick" ] || { log "DRY resume: every run ended; nothing to resume"; exit 6; }
  s0=$(node -p "require('$R/$pick/state.json').step")
  node bin/oodgen.js --threads 1 train --out "$R/$pick" --resume --epochs 1000 --max-steps $((s0 + 2)) --no-grids --progress none 2>&1 | tail -1 | tee -a "$OUT/run.log"
  s1=$(node -p "require('$R/$pick/state.json').step")
  if [ "$s1" = $((s0 + 2)) ]; then log "DRY resume: $pick continued from step $s0 to $s1 with --resume"; else log "DRY resume FAILED ($pick: $s0 -> $s1)"; exit 6; fi
  # A run that early stopping ended was exported by zoo-import.sh (into the scratch zoo); if none did here, export
  # the first run (ended by its epoch cap) the same way, as a run exported mid-training is.
  ex=$(ls "$Z/zoo" 2>/dev/null | head -1)
  if [ -z "$ex" ]; then
    ex=${MODELS%% *}; [ "$ex" = "$pick" ] && ex=$(echo $MODELS | cut -d' ' -f2); ex=${ex:-$pick}
    log "DRY export: no run early-stopped in the tiny run; exporting $ex directly"
    node "$Z/scripts/zoo-export.mjs" "$R/$ex" "$ex" "$(node -p "require('$R/$ex/config.json').command")" | tee -a "$OUT/run.log"
  fi
  [ -f "$Z/zoo/$ex/model.safetensors" ] || { log "DRY export FAILED"; exit 7; }
  log "DRY export: $Z/zoo/$ex: $(ls "$Z/zoo/$ex" | tr '\n' ' ')"; cat "$Z/zoo/$ex/status.json" >> "$OUT/run.log"
fi
log "done"
