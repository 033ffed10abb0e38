#!/usr/bin/env bash
# Reruns every benchmark behind docs/results.md's generated blocks and rewrites the blocks: one command for all the
# tables, after a zoo model or a study run lands.
#   scripts/refresh-results.sh RUNS [BLOCK...]    (BLOCK: seed fm-detectors c10-detectors celeba-detectors glow fig31;
#                                                  default all)
# RUNS is where scripts/zoo-train.sh puts its runs (the Glow runs and the blur-study panels are found there) and holds
# the shared benchmark cache (RUNS/bench-cache): units are cached by content (weights, detector and options, data
# bytes), so a rerun computes only what changed or is new, and is resumable after Ctrl-C. What it costs from an empty
# cache on one thread of this 2-core machine: seed ~20 min with the complete zoo (measured beside one training job), fm-detectors ~2.5 h (likelihood
# regret at 1,000 images per set is ~1.5 h of it), c10-detectors ~1.2 h, celeba-detectors ~30 min, glow ~20 min. THREADS (default 1) sets --threads;
# UNFINISHED=1 adds --unfinished: zoo models exported before their training ended are scored too, their rows marked
# "(not converged)" (without it they are listed under Skipped).
set -euo pipefail
runs=${1:?usage: scripts/refresh-results.sh RUNS [seed fm-detectors c10-detectors celeba-detectors glow fig31]}; shift
runs=$(cd "$runs" && pwd)
cd "$(dirname "$0")/.."
blocks=("$@"); [ ${#blocks[@]} -eq 0 ] && blocks=(seed fm-detectors c10-detectors celeba-detectors glow fig31)
bench() { # BLOCK SUITE ZOO
  node bin/oodgen.js --threads "${THREADS:-1}" benchmark --suite "$2" --out "$runs/bench-$1" --cache "$runs/bench-cache" --zoo "$3" --no-grids ${UNFINISHED:+--unfinished}
  node scripts/results-doc.mjs "$1" "$runs/bench-$1" --runs "$runs"
}
for b in "${blocks[@]}"; do
  case $b in
    seed) bench seed seed zoo ;;
    fm-detectors) bench fm-detectors bench/suites/fm-detectors.json zoo ;;
    c10-detectors) bench c10-detectors bench/suites/c10-detectors.json zoo ;;
    celeba-detectors) bench celeba-detectors bench/suites/celeba-detectors.json zoo ;;
    glow) bench glow bench/suites/glow.json "$runs" ;;
    fig31) node scripts/blur-table.mjs "$runs" ;;
    *) echo "refresh-results: unknown block '$b' (seed fm-detectors c10-detectors celeba-detectors glow fig31)" >&2; exit 2 ;;
  esac
done
