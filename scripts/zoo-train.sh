#!/usr/bin/env bash
# Trains the model zoo (issue 13) in the background, one queue per CPU core, each model resumed where it stopped.
#   [EXPORT_TO=ZOO_DIR] scripts/zoo-train.sh QUEUE RUNS_DIR     (QUEUE: a | b | c | c10bg | celebabg | flows | fig31 | glow | glow-fm | glow-c10 | sintro ; RUNS_DIR outside the repository)
# EXPORT_TO: export each run into ZOO_DIR after every epoch and when it ends (see train() below).
# Each line is the exact command recorded in zoo/NAME/command.txt on export (scripts/zoo-export.mjs). A run folder
# that already has state.json is continued with --resume, so the queue can be restarted after an interruption or in
# a later session; a finished run (early stopping or its epoch cap) is a no-op on resume. Without a run folder, a
# model exported mid-run to zoo/ is continued from the zoo (--restart-from), one exported finished is skipped.
# This machine (2 cores): `scripts/zoo-train.sh a RUNS &` and `(scripts/zoo-train.sh b RUNS; scripts/zoo-train.sh c RUNS) &`;
# then `flows` (or its two halves `fig31` and `glow` side by side). Finished models are exported with scripts/zoo-export.mjs (zoo/README.md).
# Run it from a checkout that does not change underneath (a detached worktree), niced, --threads 1: on these 2-vCPU
# machines one libtorch thread per process is the fastest setting (docs/benchmarks.md).
set -u
queue=${1:?queue name}; runs=${2:?runs folder}
if [ -n "${EXPORT_TO:-}" ]; then EXPORT_TO=$(mkdir -p "$EXPORT_TO" && cd "$EXPORT_TO" && pwd) || exit 2; fi
cd "$(dirname "$0")/.."
train() { # NAME ARGS...
  local name=$1; shift
  local out="$runs/$name" args=("$@")
  mkdir -p "$(dirname "$out")"
  # A resumed run takes everything from its own config.json (train refuses the model/data flags with --resume), except
  # --min-delta, a stop condition that may be given on resume (it was added to runs started without it).
  # A finished run (early stopping, or its step cap: state.json done) is left as it is: nothing to resume, and a run
  # trained on a GPU comes back without its optimizer state once finished (scripts/gpu/zoo.sh).
  if [ -f "$out/state.json" ] && [ "$(node -p "require('$out/state.json').done" 2>/dev/null)" = true ]; then
    echo "{\"queue\":\"$queue\",\"model\":\"$name\",\"finished\":true}"
    return 0
  fi
  # No run folder (a new machine: only what the repository holds survives a session): a model the zoo holds as
  # finished is left as it is; one exported mid-run is continued from the zoo with --restart-from (same config, from
  # its latest checkpoint and early-stopping state when the export has them, else its best weights; Adam moments
  # reset: src/train/restart.ts); anything else starts from scratch.
  local zs="zoo/$name/status.json"
  if [ ! -f "$out/state.json" ] && [ -f "$zs" ]; then
    # (the rule of src/train/status.ts: an export from before `done` was recorded is one early stopping ended)
    if [ "$(node -p "const s = require('./$zs'); typeof s.done === 'boolean' ? s.done : s.converged === true" 2>/dev/null)" = true ]; then
      echo "{\"queue\":\"$queue\",\"model\":\"$name\",\"finished\":true,\"from\":\"zoo\"}"
      return 0
    fi
    local i keep=(--restart-from "zoo/$name")
    for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[i]}" = --min-delta ] && keep+=(--min-delta "${args[i+1]}"); done
    args=("${keep[@]}")
  elif [ -f "$out/state.json" ]; then
    local i keep=(--resume)
    for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[i]}" = --min-delta ] && keep+=(--min-delta "${args[i+1]}"); done
    args=("${keep[@]}")
  fi
  echo "{\"queue\":\"$queue\",\"model\":\"$name\",\"start\":\"$(date -Is)\",\"resume\":$([ "${args[0]}" = --resume ] && echo true || echo false),\"restart\":$([ "${args[0]}" = --restart-from ] && echo true || echo false)}"
  # EXPORT_TO=ZOO_DIR exports the run into that zoo folder after each of its epochs and once more when it ends
  # (scripts/zoo-export.mjs --zoo): a run folder lives only as long as its machine, and a session cut off before its
  # own export loses every epoch since the last one (c10-vae-cat's early-stopped epoch 32 was lost so on 2026-12-01).
  # Point it at the checkout the session commits from; a later session restarts from what was committed there.
  # The watcher runs beside the training, which stays in the foreground (Ctrl-C stops it as before), and is told to
  # stop between exports, never killed in one.
  local watcher='' stop rc
  if [ -n "${EXPORT_TO:-}" ] && [[ $name != */* ]]; then # (study runs such as fig31/fm-a are not zoo models)
    stop=$(mktemp)
    rm -f "$stop"
    (
      seen=0
      while [ ! -e "$stop" ]; do
        for ((t = 0; t < ${EXPORT_POLL:-60}; t++)); do [ -e "$stop" ] && exit 0; sleep 1; done
        # new epoch lines in the log; the label is the last one's epoch (a restarted run's log holds earlier segments')
        n=$(grep -c '"event":"epoch"' "$out/log.jsonl" 2>/dev/null); n=${n:-0}
        [ "$n" -gt "$seen" ] || continue
        # (a restarted run's log starts with its source's epoch lines, but there is nothing to export before the run's
        # own first checkpoint writes state.json: wait for it quietly rather than log a refusal each poll)
        [ -e "$out/state.json" ] || continue
        e=$(grep '"event":"epoch"' "$out/log.jsonl" | tail -n 1 | sed -E 's/.*"epoch":([0-9]+).*/\1/')
        if export_run "$name" "$out" "after epoch $e"; then seen=$n; fi
      done
    ) &
    watcher=$!
  fi
  nice -n 10 node bin/oodgen.js --threads 1 train "${args[@]}" --progress json --out "$out" >>"$runs/$name.out" 2>&1
  rc=$?
  echo "{\"queue\":\"$queue\",\"model\":\"$name\",\"end\":\"$(date -Is)\",\"rc\":$rc}"
  if [ -n "$watcher" ]; then
    touch "$stop"; wait "$watcher"; rm -f "$stop"
    export_run "$name" "$out" "when it stopped (rc $rc)" || true
  fi
}
export_run() { # NAME OUT WHEN: scripts/zoo-export.mjs into $EXPORT_TO, the command as this queue ran it
  # (zoo-export refuses, changing nothing, while a checkpoint is being written: the next poll tries again)
  local name=$1 out=$2 when=$3 cmd
  cmd="nice -n 10 node bin/oodgen.js --threads 1 train ${args[*]} --progress json --out $out   # queue $queue of scripts/zoo-train.sh; exported by it $when"
  if node scripts/zoo-export.mjs "$out" "$name" "$cmd" --zoo "$EXPORT_TO" >>"$runs/$name.out" 2>&1; then
    echo "{\"queue\":\"$queue\",\"model\":\"$name\",\"exported\":\"$EXPORT_TO/$name\",\"when\":\"$when\",\"at\":\"$(date -Is)\"}"
  else
    echo "{\"queue\":\"$queue\",\"model\":\"$name\",\"exportFailed\":\"$EXPORT_TO/$name\",\"when\":\"$when\"}"
    return 1
  fi
}
bench() { # NAME SUITE: a benchmark suite run in the queue (cached by content, so a rerun continues)
  local name=$1 suite=$2
  echo "{\"queue\":\"$queue\",\"bench\":\"$name\",\"start\":\"$(date -Is)\"}"
  nice -n 10 node bin/oodgen.js --threads 1 benchmark --suite "$suite" --out "$runs/$name" --cache "$runs/bench-cache" --zoo zoo --no-grids >>"$runs/$name.out" 2>&1
  local rc=$?
  echo "{\"queue\":\"$queue\",\"bench\":\"$name\",\"end\":\"$(date -Is)\",\"rc\":$rc}"
}
FM=(--data fashion-mnist:train --z-dim 32 --batch-size 64 --epochs 200)
bg_and_ensemble() { # PREFIX DATA: PREFIX-vae-bg (the Gaussian VAE's recipe on mutated inputs) and PREFIX-vae-ens0..4
  local p=$1 d=(--data "$2" --z-dim 128 --batch-size 64 --epochs 200) s
  train "$p-vae-bg" --model vae --decoder gaussian --sigma2 learned "${d[@]}" --width 32 --patience 5 --min-delta 0.1 --mutate 0.2
  for s in 0 1 2 3 4; do
    train "$p-vae-ens$s" --model vae --decoder gaussian --sigma2 learned "${d[@]}" --width 16 --patience 3 --min-delta 0.1 --seed $s
  done
}
case $queue in
  a)
    train fm-vae-bg   --model vae --decoder gaussian --sigma2 learned "${FM[@]}" --width 32 --patience 5 --mutate 0.2
    # (bench/suites/fm-regret.json, likelihood regret at 1,000 images per set, ran here once: its numbers are in
    # docs/results.md's generated Fashion-MNIST block; not rerun by the queue.)
    # the AE and the Bernoulli VAE before the categorical VAE: a categorical step costs ~1 s here (hours per model)
    # --min-delta 0.1 (nats per image): fm-ae's validation ELBO crept up by ~0.02 nats per epoch from epoch 38 on and
    # would have run to the 200-epoch cap (~3.5 h) for nothing; fm-ae got it on resume at epoch 45.
    train fm-ae       --model ae "${FM[@]}" --width 32 --patience 5 --min-delta 0.1
    train fm-vae-bern --model vae --decoder bernoulli "${FM[@]}" --width 32 --patience 5 --min-delta 0.1
    train fm-vae-cat  --model vae --decoder categorical "${FM[@]}" --width 32 --patience 5 --min-delta 0.1
    ;;
  b)
    for s in 0 1 2 3 4; do
      train fm-vae-ens$s --model vae --decoder gaussian --sigma2 learned "${FM[@]}" --width 16 --patience 3 --seed $s
    done
    ;;
  c)
    train c10-vae-gauss --model vae --decoder gaussian --sigma2 learned --data cifar10:train --z-dim 128 --width 32 --batch-size 64 --epochs 200 --patience 5
    # celeba-vae (Gaussian; 17 min in all) before c10-vae-cat: the categorical CIFAR-10 VAE costs ~1.9-2.2 s per step
    # on one core (the 768-channel last transposed convolution and the 256-way softmax), 22-27 min per epoch of 703
    # steps (2.7-3.4 s, 32-40 min per epoch, on the Intel Xeon of 2026-11-30 with OpenBLAS's SkylakeX kernels);
    # fm-vae-cat needed 39 epochs, so expect 10-15 h over several sessions (it cannot travel to a lent GPU:
    # CIFAR-10's training split does not fit the 64 MiB a device call carries).
    train celeba-vae    --model vae --decoder gaussian --sigma2 learned --data celeba:train --z-dim 128 --width 32 --batch-size 64 --epochs 200 --patience 5 --min-delta 0.1
    train c10-vae-cat   --model vae --decoder categorical --data cifar10:train --z-dim 128 --width 32 --batch-size 64 --epochs 200 --patience 5 --min-delta 0.1
    ;;
  c10bg)
    # likelihood-ratio's background model and WAIC's ensemble for CIFAR-10 (bench/suites/c10-detectors.json), as queues
    # a and b made them for Fashion-MNIST: the background model is c10-vae-gauss's recipe on mutated inputs, the
    # ensemble five narrower members (width 16) with different seeds. c10-vae-gauss took 12,654 steps at ~0.4 s each.
    bg_and_ensemble c10 cifar10:train
    ;;
  celebabg)
    # The same pair for CelebA (bench/suites/celeba-detectors.json): celeba-vae's recipe on mutated inputs, and five
    # width-16 members. celeba-vae took 6,700 steps (100 epochs of the 4,320-image split) in 17 min.
    bg_and_ensemble celeba celeba:train
    ;;
  selftest)
    # A tiny model (seconds) for tests/package/zoo-train.test.ts: the queue's own paths, EXPORT_TO included.
    train zoo-selftest --model vae --data fashion-mnist:train --limit 512 --val-limit 64 --width 4 --z-dim 4 --batch-size 64 --epochs 2 --patience 5
    ;;
  sintro)
    # The Soft-IntroVAE with the authors' Fashion-MNIST settings (z 32, batch 128, lr 2e-4, width 64: oodgen train's
    # defaults). Trained on a GPU by scripts/gpu/zoo.sh (~2.5 s per step on one core here); this resumes that run.
    train fm-sintro --model sintro --data fashion-mnist:train --epochs 200 --patience 5
    ;;
  flows|fig31|glow|glow-fm|glow-c10)
    # issue 16: the blur study's panels (Fig. 3.1) and Glow as an OoD model. Fixed step counts (not --time-budget) so
    # a panel is the same run whatever the machine's load. Per step on one quiet core (oodgen bench flow-step,
    # docs/benchmarks.md "Flow models"): f-VAE 0.43 s at z = 1024 (fm-a..c, 4,000 steps ~29 min, ~4.7 Fashion-MNIST
    # epochs), 0.25 s at z = 64 (fm-e, celeba-e; z = 128 not measured), 0.66 s at z = 3072 (celeba-a..c, 3,000 steps
    # ~33 min); Glow 0.56 s (fm-glow) and 0.71 s (c10-glow), 6,000 steps ~56 and ~71 min, twice (with the background
    # Glows), and ten small Glows for WAIC: ~9.5 h for the queue. Niced
    # beside two other jobs a step costs ~2.8x that (1.2 s measured at z = 1024). Study runs, not zoo models.
    # `fig31` and `glow` are the two halves of `flows`, for running them on two cores at once; `glow-fm` and `glow-c10`
    # split `glow` by dataset, so the two background Glows can train side by side.
    if [ "$queue" = flows ] || [ "$queue" = fig31 ]; then
      F=(--model fvae --data fashion-mnist:train --batch-size 64 --max-steps 4000 --val-fraction 0)
      train fig31/fm-a "${F[@]}" --z-dim 1024 --sigma2 learned
      train fig31/fm-b "${F[@]}" --z-dim 1024 --sigma2 0.1
      train fig31/fm-c "${F[@]}" --z-dim 1024 --sigma2 0.1 --beta 10
      train fig31/fm-d "${F[@]}" --z-dim 128  --sigma2 0.1 --beta 10
      train fig31/fm-e "${F[@]}" --z-dim 64   --sigma2 0.1 --beta 10
      C=(--model fvae --data celeba:train --batch-size 64 --max-steps 3000 --val-fraction 0)
      train fig31/celeba-a "${C[@]}" --z-dim 3072 --sigma2 learned
      train fig31/celeba-b "${C[@]}" --z-dim 3072 --sigma2 0.1
      train fig31/celeba-c "${C[@]}" --z-dim 3072 --sigma2 0.1 --beta 10
      train fig31/celeba-d "${C[@]}" --z-dim 128  --sigma2 0.1 --beta 10
      train fig31/celeba-e "${C[@]}" --z-dim 64   --sigma2 0.1 --beta 10
      # WAIC's ensembles (bench/suites/glow.json): five seeds of a smaller Glow (3 levels x 4 steps, width 64; about
      # 0.46 / 0.70 s per step on a loaded core for 1 / 3 channels, a third of the full size's), 3,000 steps each.
      E=(--model glow --batch-size 64 --max-steps 3000 --patience 0 --flow-levels 3 --flow-steps 4 --flow-width 64)
      for s in 0 1 2 3 4; do train fm-glow-ens$s "${E[@]}" --data fashion-mnist:train --seed $s; done
      for s in 0 1 2 3 4; do train c10-glow-ens$s "${E[@]}" --data cifar10:train --seed $s; done
    fi
    fm=false; c10=false # which datasets' full-size Glows this queue trains
    case $queue in flows|glow) fm=true; c10=true ;; glow-fm) fm=true ;; glow-c10) c10=true ;; esac
    if $fm;  then train fm-glow  --model glow --data fashion-mnist:train --batch-size 64 --max-steps 6000 --patience 0; fi
    if $c10; then train c10-glow --model glow --data cifar10:train --batch-size 64 --max-steps 6000 --patience 0; fi
    # likelihood-ratio's background Glows: the same size and steps on inputs with 20% of the values replaced by
    # uniform noise (--mutate 0.2, as fm-vae-bg), Ren et al. 2019; with the gradient norm clipped at 100 (typical
    # norms 10-180): without it fm-glow-bg was wrecked by one batch's 1.5e10-bits/dim loss at step 5,027 and ended in
    # an infinite loss (twice: on a GPU at step 3,970, on the CPU at 5,047; docs/flows.md).
    if $fm;  then train fm-glow-bg  --model glow --data fashion-mnist:train --batch-size 64 --max-steps 6000 --patience 0 --mutate 0.2 --max-grad-norm 100; fi
    if $c10; then train c10-glow-bg --model glow --data cifar10:train --batch-size 64 --max-steps 6000 --patience 0 --mutate 0.2 --max-grad-norm 100; fi
    ;;
  *) echo "unknown queue $queue" >&2; exit 2 ;;
esac
