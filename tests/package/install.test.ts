// The package as a user gets it: `npm pack`, then `npm install ./oodgen-<version>.tgz` in a fresh project (the addon
// is built there by node-gyp), a TypeScript consumer that type-checks against the shipped .d.ts and runs, and the
// CLI through `npx oodgen`. Nothing from this checkout leaks in: the consumer lives in a temporary folder outside
// the repository and only sees the tarball. Needs libtorch (as the install does) and the npm registry or cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tempDir } from '../helpers/tmp.js';

const root = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string; version: string; devDependencies: Record<string, string>;
};

// npm_* variables from an enclosing `npm test` (npm_config_prefix, npm_lifecycle_event, ...) would steer the nested
// npm commands; OODGEN_NATIVE would make the consumer load this checkout's addon instead of the one it built.
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env)
  .filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'OODGEN_NATIVE' && k !== 'NODE_OPTIONS'));

function run(cmd: string, args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}, timeout = 600_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: { ...env, ...extra }, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
}
const show = (r: SpawnSyncReturns<string>): string => `exit ${r.status}\n${r.stderr}\n${r.stdout}`.slice(-6000);

const libtorch = spawnSync(process.execPath, [join(root, 'native', 'find-libtorch.cjs'), 'describe'], { encoding: 'utf8' });
const skip = libtorch.status !== 0 ? 'no libtorch on this machine (the package builds its addon against it)' : false;

// The consumer: real imports, real types, real numbers (closed forms), and native memory back to baseline.
const consumerTs = `
import { engine, tidy, liveTensors, oodMetrics, OodgenError, createModel, type ModelConfig, type LatentModel } from 'oodgen';

const before = liveTensors();
// [[1, 2], [3, 4]] @ [[5], [6]] = [[17], [39]], computed by libtorch through the addon built at install.
const product: number[] = tidy(() => engine.matmul(engine.tensor([1, 2, 3, 4], [2, 2]), engine.tensor([5, 6], [2, 1])).toArray());
// AUROC = P(ood > id) over pairs: of (0.35, 0.8) x (0.1, 0.4), three of four pairs are ordered.
const auroc: number = oodMetrics([0.1, 0.4], [0.35, 0.8]).AUROC;
const config: ModelConfig = { kind: 'vae', decoder: 'gaussian', sigma2: 'learned', channels: 1, imageSize: 32, zDim: 4, width: 4 };
const model: LatentModel = createModel(config);
const params = model.parameters().length;
model.dispose();
let refused = '';
// A config read from a file escapes the types; the factory still refuses it.
const fromFile = JSON.parse(JSON.stringify({ ...config, imageSize: 31 })) as ModelConfig;
try { createModel(fromFile); } catch (e) { refused = (e as Error).message; }
const userError = new OodgenError('x') instanceof Error;
console.log(JSON.stringify({ product, auroc, params, refused, userError, live: liveTensors() - before, resolved: import.meta.resolve('oodgen') }));

// Wrong on purpose, never called: if the shipped types were missing or \`any\`, these lines would type-check and
// each unused @ts-expect-error would fail the compile.
export function misuse(): void {
  // @ts-expect-error AUROC is a number
  const a: string = oodMetrics([0.1], [0.2]).AUROC;
  // @ts-expect-error not a model kind
  createModel({ kind: 'not-a-model' });
  void a;
}
`;

test('npm pack installs into a fresh project: addon built, typed imports, npx oodgen', { skip, timeout: 900_000 }, async (t) => {
  const dir = tempDir('package');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // npm pack's prepack builds dist/ in the checkout; a dist/ this test made goes again (one that was there stays).
  const dist = join(root, 'dist');
  if (!existsSync(dist)) t.after(() => rmSync(dist, { recursive: true, force: true }));

  // prepack builds dist/ from a clean slate, so the tarball never carries files of moved or deleted sources.
  let t0 = performance.now();
  const packed = run('npm', ['pack', '--json', '--pack-destination', dir], root);
  assert.equal(packed.status, 0, `npm pack: ${show(packed)}`);
  const info = (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))) as { filename: string; size: number; files: { path: string }[] }[];
  const tarball = join(dir, info[0].filename);
  const files = info[0].files.map((f) => f.path);
  t.diagnostic(`${info[0].filename}: ${info[0].size} bytes packed, ${files.length} files; npm pack (with the dist build) ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  await t.test('the tarball holds the compiled package and nothing of the workshop', () => {
    for (const f of ['package.json', 'README.md', 'bin/oodgen.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js',
      'dist/src/engine/native.js', 'native/binding.gyp', 'native/src/shim.cc', 'native/find-libtorch.cjs', 'native/install.cjs']) {
      assert.ok(files.includes(f), `tarball has ${f}`);
    }
    const stray = files.filter((f) => /^(tests|docs|src|runs|scripts|\.gpu|\.device)\/|^native\/build\/|^bench\/out\/|\.test\.|\.ts$(?<!\.d\.ts)|\.(png|safetensors|tgz)$/.test(f));
    assert.deepEqual(stray, [], 'no tests, sources, docs, fixtures, figures or bench outputs in the tarball');
    assert.ok(info[0].size < 1_000_000, `tarball is ${info[0].size} bytes`);
  });

  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'oodgen-consumer', private: true, type: 'module' }));
  t0 = performance.now();
  const installed = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball,
    `typescript@${pkg.devDependencies.typescript}`, `@types/node@${pkg.devDependencies['@types/node']}`], app);
  if (installed.status !== 0 && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH/.test(installed.stderr)) {
    t.skip(`the npm registry is unreachable and the cache lacks a dependency: ${installed.stderr.split('\n').find((l) => /E[A-Z]{4,}/.test(l))}`);
    return;
  }
  assert.equal(installed.status, 0, `npm install ${tarball}: ${show(installed)}`);
  t.diagnostic(`npm install (with the addon build) ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const home = join(app, 'node_modules', pkg.name);

  await t.test('install built the addon with node-gyp; no TypeScript sources came along', () => {
    assert.ok(existsSync(join(home, 'native', 'build', 'Release', 'oodgen_native.node')), 'native/build/Release/oodgen_native.node');
    assert.ok(!existsSync(join(home, 'src')), 'src/ is not installed, so bin/oodgen.js must run dist/');
  });

  await t.test('a TypeScript consumer type-checks against the shipped .d.ts (strict, no skipLibCheck), and misuse does not', () => {
    writeFileSync(join(app, 'consumer.ts'), consumerTs);
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], outDir: 'out' },
      files: ['consumer.ts'],
    }));
    const tsc = run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);
    assert.equal(tsc.status, 0, `tsc consumer.ts: ${show(tsc)}`);
  });

  await t.test('the compiled consumer imports oodgen from node_modules and computes with the installed addon', () => {
    const r = run(process.execPath, [join(app, 'out', 'consumer.js')], app);
    assert.equal(r.status, 0, `node out/consumer.js: ${show(r)}`);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as { product: number[]; auroc: number; params: number; refused: string; userError: boolean; live: number; resolved: string };
    assert.deepEqual(got.product, [17, 39]);
    assert.equal(got.auroc, 0.75);
    assert.ok(got.params > 0, `the VAE has ${got.params} parameter tensors`);
    assert.match(got.refused, /image size must be 32 or 28, got 31/, 'a bad model config is refused with its reason');
    assert.equal(got.userError, true);
    assert.equal(got.live, 0, 'native tensors back to baseline');
    assert.equal(got.resolved, `file://${join(home, 'dist', 'src', 'index.js')}`);
  });

  await t.test('npx oodgen runs from the consumer project', () => {
    const help = run('npx', ['--no-install', 'oodgen', '--help'], app);
    assert.equal(help.status, 0, `npx oodgen --help: ${show(help)}`);
    assert.match(help.stdout, /^Usage: oodgen \[options\] \[command\]/);
    assert.match(help.stdout, /train \[options\]/);
    const train = run('npx', ['--no-install', 'oodgen', 'train', '--model', 'vae', '--decoder', 'gaussian', '--data', 'noise:64',
      '--batch-size', '16', '--max-steps', '2', '--width', '4', '--z-dim', '4', '--progress', 'none', '--out', 'run'], app);
    assert.equal(train.status, 0, `npx oodgen train: ${show(train)}`);
    const state = JSON.parse(readFileSync(join(app, 'run', 'state.json'), 'utf8')) as { step: number };
    assert.equal(state.step, 2);
    for (const f of ['model.safetensors', 'config.json', 'samples.png']) assert.ok(existsSync(join(app, 'run', f)), `run/${f}`);
    // bench memory re-runs bin/oodgen.js in fresh processes, found from dist/src/cli through the package root.
    const bench = run('npx', ['--no-install', 'oodgen', 'bench', 'memory', '--short', '1', '--long', '2', '--batch', '2', '--json'], app);
    assert.equal(bench.status, 0, `npx oodgen bench memory: ${show(bench)}`);
    const mem = JSON.parse(bench.stdout.trim().split('\n').pop()!) as { short_steps: number; long_steps: number; live_tensors: number[] };
    assert.deepEqual([mem.short_steps, mem.long_steps], [1, 2]);
    assert.equal(mem.live_tensors[0], mem.live_tensors[1]);
  });

  await t.test('without libtorch the install stops with one line that names the fix', () => {
    // LIBTORCH pointing at a folder with no libtorch in it: the same refusal as a machine with none at all.
    const empty = join(dir, 'no-libtorch');
    mkdirSync(empty);
    const r = run('npm', ['rebuild', pkg.name], app, { LIBTORCH: empty });
    assert.notEqual(r.status, 0, 'npm rebuild must fail');
    const ours = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('oodgen: '));
    assert.equal(ours.length, 1, `exactly one oodgen line:\n${show(r)}`);
    assert.match(ours[0], /cannot build the native addon: LIBTORCH=\S+ has no include\/ATen\/ATen\.h/);
    assert.match(ours[0], /Fix: apt-get install libtorch-dev .*pip install torch.*export LIBTORCH=.*npm rebuild oodgen/);
    assert.doesNotMatch(`${r.stdout}\n${r.stderr}`, /Traceback|gyp ERR!/, 'no gyp traceback');
  });
});
