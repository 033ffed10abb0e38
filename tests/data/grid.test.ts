import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import sharp from 'sharp';
import { writeImageGrid } from '../../src/eval/grid.js';
import { OodgenError } from '../../src/errors.js';
import { tempDir } from './helpers.js';

test('grid: layout, padding, upscaling and clamping of float images', async (t) => {
  const d = tempDir(t);
  const out = join(d, 'g.png');
  // 3 gray 2x2 images: 0.5, 1.5 (clamped to 1), -1 (clamped to 0).
  const imgs = Float32Array.from([...Array(4).fill(0.5), ...Array(4).fill(1.5), ...Array(4).fill(-1)]);
  await writeImageGrid(out, imgs, [3, 1, 2, 2], { nrow: 2, padding: 1, scale: 2 });
  const { data, info } = await sharp(out).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [2 * 4 + 3, 2 * 4 + 3]);
  const px = (x: number, y: number) => data[y * info.width + x];
  assert.equal(px(1, 1), 128);
  assert.equal(px(6, 1), 255);
  assert.equal(px(1, 6), 0);
  assert.equal(px(0, 0), 255, 'padding');
  assert.deepEqual(readdirSync(d), ['g.png'], 'no temp file left behind');
  assert.equal((await sharp(out).metadata()).channels, 1);
  const rgb = join(d, 'c.png');
  await writeImageGrid(rgb, Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i), [2, 3, 2, 2]);
  assert.equal((await sharp(rgb).metadata()).channels, 3);
  await assert.rejects(writeImageGrid(join(d, 'x.png'), new Float32Array(8), [1, 2, 2, 2]), OodgenError);
  await assert.rejects(writeImageGrid(join(d, 'y.png'), new Float32Array(3), [1, 1, 2, 2]), OodgenError);
});
