// The README is part of the product: its library example runs as written, and every CLI command it shows runs on
// tiny data (the command line as written, plus options that shrink the work, appended so they win).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { tempDir } from '../helpers/tmp.js';
import { lackingData } from '../helpers/data.js';

const root = new URL('../../', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function block(tag: string): string {
  const at = readme.indexOf(`<!-- readme-test: ${tag} -->`);
  assert.ok(at >= 0, `README has a block tagged ${tag}`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `a code block follows the ${tag} tag`);
  return m[1];
}

/** Options appended per command so it runs in seconds; the README's own options stay in front. */
function shrink(args: string[]): string[] {
  const cmd = args[0] === 'data' ? `data ${args[1]}` : args[0];
  switch (cmd) {
    case 'train':
      return args.includes('--resume') ? ['--max-steps', '4', '--progress', 'none']
        : ['--max-steps', '2', '--limit', '256', '--val-limit', '64', '--width', '8', '--progress', 'none'];
    case 'sample': return ['--n', '4', '--bn-adapt', '32'];
    case 'reconstruct': return ['--n', '4'];
    case 'score': return ['--limit', '40', '--k', '2', '--batch-size', '20'];
    case 'eval': return ['--limit', '40', '--k', '2', '--bootstrap', '10', '--batch-size', '20', '--recon', '4', '--no-charts'];
    case 'latent': return ['--limit', '60', '--embed', 'none', '--k', '2', '--batch-size', '30'];
    case 'data preview': return ['-n', '8'];
    default: return [];
  }
}

/** Runs a README TypeScript example from a scratch folder outside the checkout (nothing lands in the repo's runs/). */
function runExample(cwd: string, file: string): SpawnSyncReturns<string> {
  // 'oodgen' resolves to src/index.ts through tsconfig.json's "paths", which tsx reads from the checkout's tsconfig
  // (named explicitly: tsx looks for one from the working directory, a temp folder here); tsx itself is named by its
  // resolved URL, since the temp folder has no node_modules. Its package.json makes the example an ES module (top-level
  // await), as in a user's project.
  writeFileSync(join(cwd, 'package.json'), '{ "type": "module", "private": true }\n');
  return spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(cwd, file)], {
    cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') },
  });
}

// The commands read Fashion-MNIST (Debian's package) and MNIST (../shared/data, or `oodgen data fetch mnist`).
test('every CLI command in the README runs (on tiny data)', { timeout: 600_000, skip: lackingData('fashion-mnist:train', 'mnist:test') }, (t) => {
  const cwd = tempDir('readme', t);
  const lines = block('cli').split('\n').map((l) => l.trim()).filter((l) => l.startsWith('oodgen '));
  assert.ok(lines.length >= 10, `README shows ${lines.length} commands`);
  for (const line of lines) {
    const args = line.split(/\s+/).slice(1);
    const full = [...args, ...shrink(args)];
    const r = spawnSync(process.execPath, [join(root, 'bin', 'oodgen.js'), ...full], { cwd, encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, `\`${line}\` failed (run as oodgen ${full.join(' ')}):\n${r.stderr}\n${r.stdout}`.slice(0, 4000));
  }
  assert.ok(existsSync(join(cwd, 'runs', 'fm-vae-eval', 'results.md')), 'eval wrote its table');
  assert.ok(existsSync(join(cwd, 'runs', 'fm-vae-latent', 'results.json')), 'latent wrote its results');
});

test('the README library example runs as written', { timeout: 300_000 }, (t) => {
  const cwd = tempDir('readme-example', t);
  writeFileSync(join(cwd, 'example.ts'), block('library'));
  const r = runExample(cwd, 'example.ts');
  assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}`.slice(0, 4000));
  const m = /AUROC fashion-mnist vs uniform noise: ([0-9.]+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) > 0.9, `a trained VAE separates noise from clothes (AUROC ${m[1]})`);
});

test('the README "Extending oodgen" example runs as written', { timeout: 300_000 }, (t) => {
  const cwd = tempDir('readme-extend', t);
  writeFileSync(join(cwd, 'extend.ts'), block('extending'));
  const r = runExample(cwd, 'extend.ts');
  assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}`.slice(0, 4000));
  const m = /brightness vs noise:200: AUROC ([0-9.]+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  // Uniform noise has mean x^2 = 1/3, above most Fashion-MNIST images (mostly black background); the value itself is
  // checked against a closed form in tests/ood/extend.test.ts.
  assert.ok(Number(m[1]) > 0.7 && Number(m[1]) <= 1, `brightness ranks noise above most clothes (AUROC ${m[1]})`);
  assert.match(r.stdout, /rec vs noise:200: AUROC [0-9.]+/);
});
