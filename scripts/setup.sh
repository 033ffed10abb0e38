#!/usr/bin/env bash
# One-shot setup on Debian 12 (run as root, or with sudo available): system packages, npm packages, the addon.
# chromium is for the browser tests (puppeteer-core drives Debian's chromium; no browser download).
# Safe to run again: apt and npm skip what is already there, and the addon is rebuilt only when missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(libtorch-dev libgloo-dev libopenblas0-pthread dataset-fashion-mnist python3-torch python3-sklearn python3-numpy python3-mpmath
      build-essential python3 fonts-dejavu-core chromium)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# libtorch is ~6x slower with Debian's reference BLAS; make sure OpenBLAS (pthread) is the selected provider.
for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
  cand=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-pthread | head -1 || true)
  if [ -n "$cand" ]; then $SUDO update-alternatives --set "$alt" "$cand" >/dev/null 2>&1 || true; fi
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

addon=native/build/Release/oodgen_native.node
if [ ! -f "$addon" ] || [ -n "$(find native/src native/binding.gyp -newer "$addon" 2>/dev/null)" ]; then
  echo "setup: building the native addon against $(node native/find-libtorch.cjs describe)" >&2
  npm run --silent build:native >&2
fi
node -e "import('./src/engine/native.ts').catch(()=>{})" 2>/dev/null || true
echo "setup: ready" >&2
