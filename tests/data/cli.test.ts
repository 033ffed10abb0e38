import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { registerDataCommands } from '../../src/cli/data.js';
import { OodgenError } from '../../src/errors.js';
import { put, tempDir, writeIdxPair } from './helpers.js';

function program(): { p: Command; out: string[] } {
  const out: string[] = [];
  const p = new Command('oodgen').exitOverride();
  registerDataCommands(p, { write: (s) => void out.push(s), err: () => undefined });
  return { p, out };
}

test('cli: data inspect, list, preview; a corrupt file is an OodgenError, not a crash', async (t) => {
  const d = tempDir(t);
  const w = writeIdxPair(join(d, 'kmnist'), 'train', 9, 28, 28);
  let c = program();
  await c.p.parseAsync(['node', 'oodgen', 'data', 'inspect', join(d, 'kmnist')]);
  assert.match(c.out.join(''), /train: 9 images of 28x28x1 uint8, values \d+\.\.\d+/);
  c = program();
  await c.p.parseAsync(['node', 'oodgen', 'data', 'list', '--root', d]);
  assert.match(c.out.join(''), /kmnist:train\s+9\s+28x28x1/);
  c = program();
  const png = join(d, 'out', 'grid.png');
  await c.p.parseAsync(['node', 'oodgen', 'data', 'preview', 'kmnist', '--root', d, '--out', png, '-n', '4']);
  assert.ok(existsSync(png));
  put(w.imagesPath, Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  c = program();
  await assert.rejects(c.p.parseAsync(['node', 'oodgen', 'data', 'inspect', join(d, 'kmnist')]),
    (e: Error) => e instanceof OodgenError && e.message.includes(w.imagesPath));
});
