#!/usr/bin/env bash
# Brings the runs that scripts/gpu/zoo.sh trained on a GPU into a runs folder here (see scripts/gpu/README.md, "zoo.sh"):
#   bash scripts/gpu/zoo-import.sh OUTDIR RUNS      (OUTDIR: the device call's files; RUNS: scripts/zoo-train.sh's folder)
# For each NAME.tar (or NAME.tar.partNN pieces) in OUTDIR: unpacks RUNS/NAME, sets its config's device to cpu (the
# run then continues here with `oodgen train --out RUNS/NAME --resume`, which scripts/zoo-train.sh does), and
#   - exports it to zoo/NAME with scripts/zoo-export.mjs when early stopping ended it (the command recorded is the
#     run's own, config.json "command"),
#   - otherwise leaves it for scripts/zoo-train.sh (queue a: fm-*, c: celeba-vae, sintro: fm-sintro) to resume.
# A RUNS/NAME that already holds a run is left alone unless FORCE=1 (then it is moved to RUNS/NAME.pre-gpu-<time>).
set -euo pipefail
OUTDIR=${1:?OUTDIR (the device call\'s files)}; RUNS=${2:?RUNS folder}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EXPORT=${ZOO_EXPORT:-$ROOT/scripts/zoo-export.mjs}
mkdir -p "$RUNS"
shopt -s nullglob
found=0
for first in "$OUTDIR"/*.tar "$OUTDIR"/*.tar.part00; do
  name=$(basename "$first"); name=${name%.part00}; name=${name%.tar}
  found=1
  tmp=$(mktemp -d "$RUNS/.import-$name.XXXX")
  if [[ $first == *.part00 ]]; then cat "$OUTDIR/$name.tar.part"* | tar xf - -C "$tmp"; else tar xf "$first" -C "$tmp"; fi
  if [ ! -f "$tmp/$name/state.json" ]; then echo "$name: no state.json in the archive (never checkpointed); skipped" >&2; rm -rf "$tmp"; continue; fi
  if [ -e "$RUNS/$name/state.json" ]; then
    if [ "${FORCE:-0}" != 1 ]; then
      echo "$name: $RUNS/$name already holds a run (step $(node -p "require('$RUNS/$name/state.json').step")); the GPU run (step $(node -p "require('$tmp/$name/state.json').step")) is not imported; FORCE=1 moves the old one aside" >&2
      rm -rf "$tmp"; continue
    fi
    mv "$RUNS/$name" "$RUNS/$name.pre-gpu-$(date +%Y%m%d-%H%M%S)"
  fi
  rm -rf "$RUNS/$name"; mv "$tmp/$name" "$RUNS/$name"; rmdir "$tmp"
  # The device is where a run trains next, not part of the model: a run trained on cuda resumes here on the cpu.
  # (config.json is read strictly, so where it trained is noted beside it, in gpu-import.json.)
  node -e '
    const fs = require("fs"); const [dir, from] = process.argv.slice(1); const p = dir + "/config.json";
    const c = JSON.parse(fs.readFileSync(p, "utf8"));
    fs.writeFileSync(dir + "/gpu-import.json", JSON.stringify({ trainedOn: c.device, importedFrom: from, importedAt: new Date().toISOString() }) + "\n");
    if (c.device !== "cpu") { c.device = "cpu"; fs.writeFileSync(p + ".tmp", JSON.stringify(c, null, 2) + "\n"); fs.renameSync(p + ".tmp", p); }' "$RUNS/$name" "$OUTDIR"
  read -r step epoch reason <<< "$(node -p "const s = require('$RUNS/$name/state.json'); [s.step, s.epoch, s.stopReason].join(' ')")"
  if [ "$reason" = early-stopping ]; then
    node "$EXPORT" "$RUNS/$name" "$name" "$(node -p "require('$RUNS/$name/config.json').command")"
    echo "$name: imported and exported (early stopping at step $step, epoch $epoch)"
  else
    echo "$name: imported at step $step, epoch $epoch ($reason); not converged: scripts/zoo-train.sh resumes it (or: node bin/oodgen.js --threads 1 train --out $RUNS/$name --resume)"
  fi
done
[ $found = 1 ] || { echo "zoo-import: no NAME.tar or NAME.tar.part00 in $OUTDIR" >&2; exit 1; }
