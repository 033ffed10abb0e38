#!/usr/bin/env bash
# Trains the model zoo (issue 13) in the background, one queue per CPU core, each model resumed where it stopped.
#   scripts/zoo-train.sh QUEUE RUNS_DIR     (QUEUE: a | b | c | fig31 ; RUNS_DIR outside the repository)
# Each line is the exact command recorded in zoo/NAME/command.txt on export (scripts/zoo-export.mjs). A run folder
# that already has state.json is continued with --resume, so the queue can be restarted after an interruption or in
# a later session; a finished run (early stopping or its epoch cap) is a no-op on resume.
# Run it from a checkout that does not change underneath (a detached worktree), niced, --threads 1: on these 2-vCPU
# machines one libtorch thread per process is the fastest setting (docs/benchmarks.md).
set -u
queue=${1:?queue name}; runs=${2:?runs folder}
cd "$(dirname "$0")/.."
train() { # NAME ARGS...
  local name=$1; shift
  local out="$runs/$name" extra=()
  [ -f "$out/state.json" ] && extra=(--resume)
  echo "{\"queue\":\"$queue\",\"model\":\"$name\",\"start\":\"$(date -Is)\",\"resume\":${#extra[@]}}"
  nice -n 10 node bin/oodgen.js --threads 1 train "$@" --progress json --out "$out" "${extra[@]}" >>"$runs/$name.out" 2>&1
  echo "{\"queue\":\"$queue\",\"model\":\"$name\",\"end\":\"$(date -Is)\",\"rc\":$?}"
}
FM=(--data fashion-mnist:train --z-dim 32 --batch-size 64 --epochs 200)
case $queue in
  a)
    train fm-vae-bg   --model vae --decoder gaussian --sigma2 learned "${FM[@]}" --width 32 --patience 5 --mutate 0.2
    train fm-vae-cat  --model vae --decoder categorical "${FM[@]}" --width 32 --patience 5
    train fm-ae       --model ae "${FM[@]}" --width 32 --patience 5
    train fm-vae-bern --model vae --decoder bernoulli "${FM[@]}" --width 32 --patience 5
    ;;
  b)
    for s in 0 1 2 3 4; do
      train fm-vae-ens$s --model vae --decoder gaussian --sigma2 learned "${FM[@]}" --width 16 --patience 3 --seed $s
    done
    ;;
  c)
    train c10-vae-gauss --model vae --decoder gaussian --sigma2 learned --data cifar10:train --z-dim 128 --width 32 --batch-size 64 --epochs 200 --patience 5
    train c10-vae-cat   --model vae --decoder categorical --data cifar10:train --z-dim 128 --width 32 --batch-size 64 --epochs 200 --patience 5
    train celeba-vae    --model vae --decoder gaussian --sigma2 learned --data celeba:train --z-dim 128 --width 32 --batch-size 64 --epochs 200 --patience 5
    ;;
  *) echo "unknown queue $queue" >&2; exit 2 ;;
esac
