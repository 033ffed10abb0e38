// scripts/blur-table.mjs: the blur study's table is generated from the panel runs (finished, training, not started).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { tempDir } from '../helpers/tmp.js';

const script = new URL('../../scripts/blur-table.mjs', import.meta.url).pathname;

// A 16 x 16 grid of 64-pixel cells with 2-pixel borders, as oodgen sample --n 256 writes it.
const grid = () => sharp({ create: { width: 16 * 66 + 2, height: 16 * 66 + 2, channels: 3, background: { r: 40, g: 90, b: 200 } } }).png().toBuffer();

async function run(dir: string, state: object | null, maxSteps: number, sh?: object): Promise<void> {
  mkdirSync(dir, { recursive: true });
  if (state) writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ training: { maxSteps } }));
  if (sh) {
    writeFileSync(join(dir, 'samples-t1.sharpness.json'), JSON.stringify(sh));
    writeFileSync(join(dir, 'samples-t1.png'), await grid());
  }
}

test('blur-table: ratios of finished panels, the step of a training one, "not started" for the rest, 8 x 8 of each grid shown', async (t) => {
  const dir = tempDir('blur-table', t);
  const runs = join(dir, 'runs');
  const sh = (g: number, h: number) => ({ gradientRatio: g, hfRatio: h, samples: { gradient: 0.1 * g, hf: 0.2 * h, n: 256 }, real: { gradient: 0.1, hf: 0.2, n: 256 } });
  await run(join(runs, 'fig31', 'fm-a'), { step: 4000, done: false, elapsedMs: 1_800_000 }, 4000, sh(0.41234, 0.2));
  await run(join(runs, 'fig31', 'fm-b'), { step: 1200, done: false, elapsedMs: 600_000 }, 4000);
  await run(join(runs, 'fig31', 'fm-c'), null, 4000);
  await run(join(runs, 'fig31', 'celeba-c'), { step: 3000, done: true, elapsedMs: 2_400_000 }, 3000, sh(0.7, 0.55555));
  const doc = join(dir, 'results.md');
  writeFileSync(doc, '# Results\n\n## Blur study\n\ntext\n\n<!-- bench:fig31 -->\nold\n<!-- /bench:fig31 -->\n\n## Glow\n');
  const img = join(dir, 'img');
  const r = spawnSync(process.execPath, [script, runs, '--doc', doc, '--img', img, '--no-sample'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = readFileSync(doc, 'utf8');
  assert.match(got, /\| \(a\) \| dim\(z\) = dim\(x\), learned sigma\^2, T = 1 \| 0\.412 \| 0\.200 \| 4,000, 30 \| not started \|  \|  \|/);
  assert.match(got, /\| \(b\) \| sigma\^2 = 0\.1 fixed \| training \(step 1,200 of 4,000\) \|  \|  \| not started \|/);
  assert.match(got, /\| \(c\) \| \+ beta = 10 \| training \(before its first checkpoint\) \|  \|  \| 0\.700 \| 0\.556 \| 3,000, 40 \|/);
  assert.match(got, /\| \(d\) \| \+ dim\(z\) = 128 \| not started \|/);
  assert.match(got, /### Blur study panels \(generated\)/, 'headings shifted under the section');
  assert.match(got, /!\[Fashion-MNIST panel a\]\(img\/fig31-fm-a\.png\)/);
  assert.match(got, /Fashion-MNIST gradient 0\.100, HF share 0\.200 \(fashion-mnist:test, 256 images\)/);
  assert.ok(existsSync(join(img, 'fig31-celeba-c.png')));
  const shown = await sharp(join(img, 'fig31-fm-a.png')).metadata();
  assert.deepEqual([shown.width, shown.height], [8 * 66 + 2, 8 * 66 + 2]);
  assert.ok(!got.includes('\nold\n'));
  assert.match(got, /## Glow\n$/);
});

test('blur-table: a missing study folder is an error naming it', (t) => {
  const dir = tempDir('blur-table', t);
  const r = spawnSync(process.execPath, [script, join(dir, 'nothing')], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /nothing\/fig31: no such folder/);
});
