#!/usr/bin/env node
// npm's install step (package.json "install"): builds the addon with node-gyp against the libtorch that
// find-libtorch.cjs locates. libtorch is looked for first so that a machine without it gets one line naming the fix
// instead of gyp's Python traceback. A project that installs the package needs no node-gyp of its own: npm's copy
// (npm_config_node_gyp) does the build there.
'use strict';
const { spawnSync } = require('node:child_process');
const { locate, LibtorchNotFound, SHORT_FIX } = require('./find-libtorch.cjs');

function die(msg) {
  process.stderr.write(`oodgen: ${msg}\n`);
  process.exit(1);
}

try {
  locate();
} catch (e) {
  if (!(e instanceof LibtorchNotFound)) throw e;
  die(`cannot build the native addon: ${e.message.replace(/\.$/, '')}. Fix: ${SHORT_FIX}; then npm rebuild oodgen.`);
}

// The checkout's own node-gyp (a devDependency) when there is one, else npm's, else whatever is on PATH.
function localGyp() {
  try { return require.resolve('node-gyp/bin/node-gyp.js', { paths: [__dirname] }); } catch { return undefined; }
}
const gyp = localGyp() ?? process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
const r = spawnSync(cmd, [...args, 'rebuild', `--directory=${__dirname}`], { stdio: 'inherit' });
if (r.error) die(`cannot run node-gyp (${r.error.message}); run the install through npm, or npm install -g node-gyp.`);
process.exit(r.status ?? 1);
