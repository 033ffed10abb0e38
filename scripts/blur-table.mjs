#!/usr/bin/env node
// The blur study's table (Chen 2021, Fig. 3.1; issue 16) from the panel runs, so its numbers are never pasted by hand:
//   node scripts/blur-table.mjs RUNS [--doc FILE] [--img DIR] [--no-sample]
// RUNS holds fig31/{fm,celeba}-{a..e} (scripts/zoo-train.sh flows). For each finished panel (state.json done) without
// samples-t1.sharpness.json it first runs `oodgen sample --n 256 --temperature 1 --sharpness <test set>` (one thread);
// then writes RUNS/fig31/results.md (the sharpness ratios per panel, the runs' steps and training minutes, the sample
// grids, copied to docs/img/fig31-*.png) and puts it into the `<!-- bench:fig31 -->` block of docs/results.md with
// scripts/results-doc.mjs. A panel still training or not started is listed as such, never left blank.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const take = (flag) => { const i = args.indexOf(flag); return i >= 0 ? args.splice(i, 2)[1] : undefined; };
const noSample = args.includes('--no-sample') ? (args.splice(args.indexOf('--no-sample'), 1), true) : false;
const doc = resolve(take('--doc') ?? join(root, 'docs', 'results.md'));
const imgDir = resolve(take('--img') ?? join(root, 'docs', 'img'));
if (args.length !== 1) {
  console.error('usage: node scripts/blur-table.mjs RUNS [--doc FILE] [--img DIR] [--no-sample]   (RUNS holds fig31/fm-a ... fig31/celeba-e)');
  process.exit(2);
}
const runs = resolve(args[0]);
const study = join(runs, 'fig31');
if (!existsSync(study)) { console.error(`blur-table: ${study}: no such folder (scripts/zoo-train.sh flows RUNS trains the panels)`); process.exit(1); }

const PANELS = [
  ['a', 'dim(z) = dim(x), learned sigma^2, T = 1'],
  ['b', 'sigma^2 = 0.1 fixed'],
  ['c', '+ beta = 10'],
  ['d', '+ dim(z) = 128'],
  ['e', '+ dim(z) = 64'],
];
const DATA = [['fm', 'Fashion-MNIST', 'fashion-mnist:test'], ['celeba', 'CelebA 32x32', 'celeba:test']];
const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));

function panel(prefix, p, reference) {
  const dir = join(study, `${prefix}-${p}`);
  if (!existsSync(join(dir, 'state.json'))) return { dir, status: existsSync(join(dir, 'config.json')) ? 'training (before its first checkpoint)' : 'not started' };
  const state = readJson(join(dir, 'state.json'));
  const cfg = readJson(join(dir, 'config.json'));
  const total = cfg.training.maxSteps;
  if (!state.done && !(total && state.step >= total)) return { dir, status: `training (step ${state.step.toLocaleString('en-US')} of ${total?.toLocaleString('en-US') ?? '?'})` };
  const json = join(dir, 'samples-t1.sharpness.json');
  if (!existsSync(json) && !noSample) {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'oodgen.js'), '--threads', '1', 'sample', '--checkpoint', dir, '--n', '256', '--temperature', '1', '--sharpness', reference], { encoding: 'utf8', cwd: root });
    if (r.status !== 0) { console.error(`blur-table: sampling ${dir} failed:\n${r.stderr}`); process.exit(1); }
  }
  if (!existsSync(json)) return { dir, status: 'trained, not sampled (--no-sample)' };
  return { dir, status: 'done', sh: readJson(json), steps: state.step, minutes: state.elapsedMs / 60000 };
}

/**
 * The docs show the top-left 8 x 8 samples of the 16 x 16 grid the sharpness was measured on (a quarter of the
 * bytes: ten panels of 370 KB each would triple docs/img); a grid of another layout is copied whole.
 */
async function shownGrid(from, to, n) {
  const side = Math.round(Math.sqrt(n));
  const meta = await sharp(from).metadata();
  const cell = (meta.width - 2) / side;
  if (side * side !== n || side < 16 || !Number.isInteger(cell) || meta.width !== meta.height) { copyFileSync(from, to); return; }
  const size = 8 * cell + 2;
  await sharp(from).extract({ left: 0, top: 0, width: size, height: size }).png({ compressionLevel: 9 }).toFile(to);
}

const f3 = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(3) : '-');
const out = [];
out.push('# Blur study panels (generated)');
out.push('');
out.push('Sharpness of 256 samples at T = 1 against 256 real test images of the same data (`src/eval/sharpness.ts`): the');
out.push('ratio of the mean gradient magnitude and of the high-frequency energy share (> 1/4 cycle/pixel); 1 = as sharp');
out.push('as the data, below 1 = blurrier. Decoder BatchNorm adapted on 2,048 prior samples before sampling (`oodgen sample`). The');
out.push('grids show 64 of the 256 samples.');
out.push('');
const head = ['panel', 'setting'];
for (const [, name] of DATA) head.push(`${name}: gradient ratio`, 'HF ratio', 'steps, min');
out.push(`| ${head.join(' | ')} |`);
out.push(`|${head.map(() => '---').join('|')}|`);
const grids = [];
for (const [p, setting] of PANELS) {
  const cells = [`(${p})`, setting];
  for (const [prefix, name, reference] of DATA) {
    const r = panel(prefix, p, reference);
    if (r.status !== 'done') { cells.push(r.status, '', ''); continue; }
    cells.push(f3(r.sh.gradientRatio), f3(r.sh.hfRatio), `${r.steps.toLocaleString('en-US')}, ${Math.round(r.minutes)}`);
    const png = join(r.dir, 'samples-t1.png');
    if (existsSync(png)) {
      mkdirSync(imgDir, { recursive: true });
      const to = join(imgDir, `fig31-${prefix}-${p}.png`);
      await shownGrid(png, to, r.sh.samples.n);
      grids.push({ prefix, name, p, link: relative(join(doc, '..'), to) });
    }
  }
  out.push(`| ${cells.join(' | ')} |`);
}
out.push('');
out.push('Real-image reference values (the denominators): ' + DATA.map(([prefix, name, reference]) => {
  const r = PANELS.map(([p]) => panel(prefix, p, reference)).find((x) => x.status === 'done');
  return r ? `${name} gradient ${f3(r.sh.real.gradient)}, HF share ${f3(r.sh.real.hf)} (${reference}, ${r.sh.real.n} images)` : `${name}: no panel done`;
}).join('; ') + '.');
for (const [prefix, name] of DATA) {
  const g = grids.filter((x) => x.prefix === prefix);
  if (!g.length) continue;
  out.push('');
  out.push(`| ${g.map((x) => `${name} (${x.p})`).join(' | ')} |`);
  out.push(`|${g.map(() => '---').join('|')}|`);
  out.push(`| ${g.map((x) => `![${name} panel ${x.p}](${x.link})`).join(' | ')} |`);
}
writeFileSync(join(study, 'results.md'), out.join('\n') + '\n');
const r = spawnSync(process.execPath, [join(root, 'scripts', 'results-doc.mjs'), 'fig31', study, '--doc', doc, '--runs', runs], { encoding: 'utf8' });
process.stdout.write(r.stdout);
process.stderr.write(r.stderr);
process.exit(r.status ?? 1);
