#!/usr/bin/env bash
# Brings the runs that scripts/gpu/zoo.sh trained on a GPU into a runs folder here (see scripts/gpu/README.md, "zoo.sh"):
#   bash scripts/gpu/zoo-import.sh OUTDIR RUNS      (OUTDIR: the device call's files; RUNS: scripts/zoo-train.sh's folder)
# For each NAME.tar (or NAME.tar.partNN pieces) in OUTDIR, for each run folder in it: unpacks RUNS/NAME, sets its config's device to cpu (the
# run then continues here with `oodgen train --out RUNS/NAME --resume`, which scripts/zoo-train.sh does), and
#   - exports it to zoo/NAME with scripts/zoo-export.mjs when early stopping ended it (the command recorded is the
#     run's own, config.json "command"),
#   - a run that finished otherwise (a Glow's step budget) stays in RUNS, where the benchmark reads study runs,
#   - otherwise leaves it for scripts/zoo-train.sh (queue a: fm-*, c: celeba-vae, sintro: fm-sintro, glow / fig31:
#     the Glows) to resume.
# A RUNS/NAME that already holds a run is left alone unless FORCE=1 (then it is moved to RUNS/NAME.pre-gpu-<time>).
set -euo pipefail
OUTDIR=${1:?OUTDIR (the device call\'s files)}; RUNS=${2:?RUNS folder}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EXPORT=${ZOO_EXPORT:-$ROOT/scripts/zoo-export.mjs}
mkdir -p "$RUNS"
shopt -s nullglob
found=0
for first in "$OUTDIR"/*.tar "$OUTDIR"/*.tar.part00; do
  tarname=$(basename "$first"); tarname=${tarname%.part00}; tarname=${tarname%.tar}
  found=1
  tmp=$(mktemp -d "$RUNS/.import-$tarname.XXXX")
  if [[ $first == *.part00 ]]; then cat "$OUTDIR/$tarname.tar.part"* | tar xf - -C "$tmp"; else tar xf "$first" -C "$tmp"; fi
  # A tar holds one run folder, or several (one job's models trained in turn: fm-glow-ens.tar holds fm-glow-ens0..4).
  for dir in "$tmp"/*/; do
    name=$(basename "$dir")
    if [ ! -f "$tmp/$name/state.json" ]; then echo "$name: no state.json in $tarname (never checkpointed); skipped" >&2; continue; fi
    if [ -e "$RUNS/$name/state.json" ]; then
      if [ "${FORCE:-0}" != 1 ]; then
        echo "$name: $RUNS/$name already holds a run (step $(node -p "require('$RUNS/$name/state.json').step")); the GPU run (step $(node -p "require('$tmp/$name/state.json').step")) is not imported; FORCE=1 moves the old one aside" >&2
        continue
      fi
      mv "$RUNS/$name" "$RUNS/$name.pre-gpu-$(date +%Y%m%d-%H%M%S)"
    fi
    rm -rf "$RUNS/$name"; mv "$tmp/$name" "$RUNS/$name"
    # The device is where a run trains next, not part of the model: a run trained on cuda resumes here on the cpu.
    # (config.json is read strictly, so where it trained is noted beside it, in gpu-import.json.)
    node -e '
      const fs = require("fs"); const [dir, from] = process.argv.slice(1); const p = dir + "/config.json";
      const c = JSON.parse(fs.readFileSync(p, "utf8"));
      fs.writeFileSync(dir + "/gpu-import.json", JSON.stringify({ trainedOn: c.device, importedFrom: from, importedAt: new Date().toISOString() }) + "\n");
      if (c.device !== "cpu") { c.device = "cpu"; fs.writeFileSync(p + ".tmp", JSON.stringify(c, null, 2) + "\n"); fs.renameSync(p + ".tmp", p); }' "$RUNS/$name" "$OUTDIR"
    read -r step epoch reason done <<< "$(node -p "const s = require('$RUNS/$name/state.json'); [s.step, s.epoch, s.stopReason ?? 'no-stop-reason', s.done].join(' ')")"
    if [ "$reason" = early-stopping ]; then
      node "$EXPORT" "$RUNS/$name" "$name" "$(node -p "require('$RUNS/$name/config.json').command")"
      echo "$name: imported and exported (early stopping at step $step, epoch $epoch)"
    elif [ "$done" = true ]; then
      # A study run with a step budget (the Glows: --max-steps, --patience 0) ends here; it is read from the runs
      # folder (--zoo RUNS), not exported.
      echo "$name: imported, finished ($reason at step $step); a study run, read from $RUNS"
    else
      echo "$name: imported at step $step, epoch $epoch ($reason); not finished: scripts/zoo-train.sh resumes it (or: node bin/oodgen.js --threads 1 train --out $RUNS/$name --resume)"
    fi
  done
  rm -rf "$tmp"
done
[ $found = 1 ] || { echo "zoo-import: no NAME.tar or NAME.tar.part00 in $OUTDIR" >&2; exit 1; }
