#!/usr/bin/env node
// Locates libtorch for node-gyp, in the order the README documents:
//   1. LIBTORCH=<folder with include/ and lib/>
//   2. a Python torch install (`python3 -c "import torch"`; this is how CUDA builds work)
//   3. Debian's libtorch-dev (/usr/include/torch + /usr/lib/<triplet>/libtorch.so)
// Run: prints one field as asked by binding.gyp: include | lib | libs | defines | describe.
// Required (native/install.cjs): exports locate(), which throws LibtorchNotFound.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

// The fix, for the multi-line message gyp shows and for install.cjs's one line.
const FIXES = [
  'Debian/Ubuntu (CPU): apt-get install libtorch-dev libopenblas0-pthread',
  'a Python torch (CUDA builds): pip install torch, then make sure `python3 -c "import torch"` works',
  'a libtorch download: export LIBTORCH=/path/to/libtorch (the folder with include/ and lib/)',
];
const SHORT_FIX = 'apt-get install libtorch-dev libopenblas0-pthread (CPU), pip install torch (CUDA), ' +
  'or export LIBTORCH=/path/to/libtorch (the folder with include/ and lib/)';

class LibtorchNotFound extends Error {}

function fail(msg) {
  throw new LibtorchNotFound(msg);
}

function fromFolder(root, source) {
  const inc = path.join(root, 'include');
  const lib = path.join(root, 'lib');
  if (!fs.existsSync(path.join(inc, 'ATen', 'ATen.h'))) return null;
  if (!fs.existsSync(lib)) return null;
  return { source, include: [inc, path.join(inc, 'torch', 'csrc', 'api', 'include')], lib, abi: null };
}

function fromPython() {
  for (const py of [process.env.PYTHON_TORCH || 'python3', '/usr/bin/python3']) {
    try {
      const out = execFileSync(py, ['-c',
        'import torch, os, json; print(json.dumps({"root": os.path.dirname(torch.__file__), ' +
        '"abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "cuda": torch.version.cuda}))'],
        { stdio: ['ignore', 'pipe', 'ignore'], timeout: 60000 }).toString().trim().split('\n').pop();
      const info = JSON.parse(out);
      const found = fromFolder(info.root, `python torch (${py})`);
      if (found) {
        found.abi = info.abi;
        // CUDA wheels ship nccl.h in the nvidia-nccl package beside torch (c10d.cc compiles ProcessGroupNCCL with it).
        const nccl = path.join(info.root, '..', 'nvidia', 'nccl', 'include');
        if (fs.existsSync(path.join(nccl, 'nccl.h'))) found.include.push(nccl);
        return found;
      }
    } catch { /* no torch in this interpreter */ }
  }
  return null;
}

function fromDebian() {
  if (!fs.existsSync('/usr/include/ATen/ATen.h')) return null;
  for (const lib of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']) {
    if (fs.existsSync(path.join(lib, 'libtorch.so'))) {
      return { source: 'Debian libtorch-dev', include: ['/usr/include', '/usr/include/torch/csrc/api/include'], lib, abi: 1 };
    }
  }
  return null;
}

function locate() {
  if (process.env.LIBTORCH) {
    const f = fromFolder(process.env.LIBTORCH, `LIBTORCH=${process.env.LIBTORCH}`);
    if (!f) fail(`LIBTORCH=${process.env.LIBTORCH} has no include/ATen/ATen.h or no lib/ folder.`);
    return f;
  }
  return fromPython() || fromDebian() || fail('no libtorch found.');
}

function printField(field) {
  const t = locate();
  const hasCuda = fs.existsSync(path.join(t.lib, 'libtorch_cuda.so'));
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  if (hasCuda) libs.push('-ltorch_cuda', '-lc10_cuda');
  switch (field) {
    case 'include': console.log(t.include.join(' ')); break;
    case 'lib': console.log(t.lib); break;
    case 'libs': console.log(['-L' + t.lib, '-Wl,-rpath,' + t.lib, '-Wl,--no-as-needed', ...libs, '-Wl,--as-needed'].join(' ')); break;
    case 'defines': console.log([`_GLIBCXX_USE_CXX11_ABI=${t.abi ?? 1}`, ...(hasCuda ? ['OODGEN_CUDA=1'] : [])].join(' ')); break;
    case 'describe':
    default: console.log(JSON.stringify({ source: t.source, include: t.include, lib: t.lib, cuda: hasCuda, abi: t.abi ?? 1 })); break;
  }
}

if (require.main === module) {
  try {
    printField(process.argv[2]);
  } catch (e) {
    if (!(e instanceof LibtorchNotFound)) throw e;
    process.stderr.write(`\noodgen: ${e.message}\nInstall one of:\n${FIXES.map((f) => `  - ${f}\n`).join('')}\n`);
    process.exit(1);
  }
}

module.exports = { locate, LibtorchNotFound, SHORT_FIX };
