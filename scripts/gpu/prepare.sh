#!/usr/bin/env bash
# Fills the ignored folder .gpu/ with what scripts/gpu/issue15.sh needs on a GPU machine that has g++ and a CUDA
# PyTorch but no Node.js and no network (see scripts/gpu/README.md). About 50 MB: with the checkout's tracked files
# (about 8.5 MB) under the 64 MiB a device call carries. Run it on the CPU machine, in the checkout, before the device call.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu/include .gpu/data/fashion-mnist
[ -s .gpu/node.xz ] || xz -T1 -6 -c "$(command -v node)" > .gpu/node.xz
NODE_INC=$(dirname "$(command -v node)")/../include/node
[ -f "$NODE_INC/node_api.h" ] || NODE_INC=/usr/include/node
cp "$NODE_INC"/node_api*.h "$NODE_INC"/js_native_api*.h .gpu/include/
cp "$(node -p "require('node-addon-api').include_dir")"/napi*.h .gpu/include/
bash scripts/gpu/bundle.sh
rm -f .gpu/ops-test.mjs   # not used by issue15.sh; keeps the carry small
xz -T1 -6 -c .gpu/oodgen.mjs > .gpu/oodgen.mjs.xz && rm .gpu/oodgen.mjs
# Fashion-MNIST training set as shipped (idx, gzip); oodgen finds it under $OODGEN_DATA/fashion-mnist.
FM=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
cp "$FM/train-images-idx3-ubyte.gz" "$FM/train-labels-idx1-ubyte.gz" .gpu/data/fashion-mnist/
du -sh .gpu; du -ah .gpu | sort -h | tail -8
