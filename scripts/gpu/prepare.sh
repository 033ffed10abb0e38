#!/usr/bin/env bash
# Fills the ignored folder .gpu/ with what scripts/gpu/issue15.sh and scripts/gpu/zoo.sh need on a GPU machine that
# has g++ and a CUDA PyTorch but no Node.js and no network (see scripts/gpu/README.md). About 44 MB: with the
# checkout's tracked files (about 15 MB) under the 64 MiB a device call carries. Run it on the CPU machine, in the
# checkout, before the device call. GPU_DATA=celeba carries CelebA 32x32 instead of Fashion-MNIST (both do not fit).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu/include
# Node without its debug sections and static symbol table (22 MB instead of 24 MB compressed); `strip` keeps the
# dynamic symbols (.dynsym) that an N-API addon binds to.
if [ ! -s .gpu/node.xz ]; then
  strip -o .gpu/node.stripped "$(command -v node)" && xz -T1 -6 -c .gpu/node.stripped > .gpu/node.xz && rm .gpu/node.stripped
fi
NODE_INC=$(dirname "$(command -v node)")/../include/node
[ -f "$NODE_INC/node_api.h" ] || NODE_INC=/usr/include/node
cp "$NODE_INC"/node_api*.h "$NODE_INC"/js_native_api*.h .gpu/include/
cp "$(node -p "require('node-addon-api').include_dir")"/napi*.h .gpu/include/
bash scripts/gpu/bundle.sh
# The models already in zoo/, which zoo.sh does not train again: the call may leave zoo/ behind to fit in 64 MiB
# (scripts/gpu/README.md, "zoo.sh").
ls zoo | grep -v README > .gpu/in-zoo.txt
rm -f .gpu/ops-test.mjs   # not used by issue15.sh; keeps the carry small
xz -T1 -6 -c .gpu/oodgen.mjs > .gpu/oodgen.mjs.xz && rm .gpu/oodgen.mjs
# The training set as uint8 safetensors, xz-compressed: Fashion-MNIST 28x28 (21 MB; the IDX .gz is 26 MB) or CelebA
# decoded at 32x32 here (12 MB; the GPU machine has no sharp). scripts/gpu/unpack-data.sh restores
# $OODGEN_DATA/<name>/train.safetensors there, read as `<name>:train` by the tensor-folder source (src/data/sources.ts);
# pack-data.ts checks that it loads to the same float32 images as the original files.
GPU_DATA=${GPU_DATA:-fashion-mnist}
rm -rf .gpu/data && mkdir -p .gpu/data/"$GPU_DATA"
npx tsx scripts/gpu/pack-data.ts "$GPU_DATA:train" ".gpu/data/$GPU_DATA/train.safetensors" 32
xz -T1 -9 .gpu/data/"$GPU_DATA"/train.safetensors
du -sh .gpu; du -ah .gpu | sort -h | tail -8
