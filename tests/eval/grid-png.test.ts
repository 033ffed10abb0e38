// imageGridPng (in-memory PNG for report.html's data URIs) draws the same grid as writeImageGrid.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { imageGridPng, writeImageGrid } from '../../src/eval/grid.js';
import { OodgenError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('gridpng');
after(() => rmSync(dir, { recursive: true, force: true }));

test('imageGridPng: the same pixels as writeImageGrid, gray and RGB; bad shapes are OodgenErrors', async () => {
  for (const [c, n] of [[1, 5], [3, 4]] as const) {
    const imgs = Float32Array.from({ length: n * c * 3 * 3 }, (_, i) => ((i * 37) % 101) / 100);
    const file = join(dir, `g${c}.png`);
    await writeImageGrid(file, imgs, [n, c, 3, 3], { nrow: 3, scale: 2 });
    const mem = await imageGridPng(imgs, [n, c, 3, 3], { nrow: 3, scale: 2 });
    const a = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    const b = await sharp(mem).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual(b.info, a.info);
    assert.ok(b.data.equals(a.data));
    assert.equal((await sharp(mem).metadata()).channels, c);
  }
  await assert.rejects(imageGridPng(new Float32Array(3), [1, 1, 2, 2]), OodgenError);
});
