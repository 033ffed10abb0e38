#!/usr/bin/env bash
# Bundles the CLI into one ESM file (.gpu/oodgen.mjs) so a GPU machine needs only a Node binary, the N-API
# headers and libtorch. sharp (PNG output) stays external: the GPU run writes checkpoints and JSON, and figures are
# rendered back on the CPU machine; run.sh supplies a stub that throws if sharp is ever reached there.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu
npx esbuild scripts/gpu/entry.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile=.gpu/oodgen.mjs --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
ls -la .gpu/oodgen.mjs
npx esbuild tests/engine/ops.test.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile=.gpu/ops-test.mjs --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
