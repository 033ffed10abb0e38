#!/usr/bin/env bash
# Restores the data that scripts/gpu/prepare.sh put in .gpu/data into DEST (then OODGEN_DATA=DEST):
# .gpu/data/<name>/<file>.xz is decompressed to DEST/<name>/<file>, any other file is linked.
#   bash scripts/gpu/unpack-data.sh DEST        (run in the checkout)
set -euo pipefail
dest=${1:?destination folder}
root=$(pwd)
shopt -s nullglob
for f in .gpu/data/*/*; do
  d=$dest/$(basename "$(dirname "$f")"); mkdir -p "$d"
  case $f in
    *.xz) xz -T0 -dc "$f" > "$d/$(basename "${f%.xz}")" & ;;
    *) ln -sf "$root/$f" "$d/" ;;
  esac
done
wait
