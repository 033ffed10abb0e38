// Files shipped beside the code are found from the package root, whether the caller runs from src/ or dist/src/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packagePath, packageRoot } from '../../src/package-root.js';

test('packageRoot is the folder of the package.json named oodgen; packagePath reaches bin/ and bench/pytorch/', () => {
  assert.equal(packageRoot(), fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, ''));
  assert.equal(packagePath('bin', 'oodgen.js'), join(packageRoot(), 'bin', 'oodgen.js'));
  for (const f of [packagePath('bin', 'oodgen.js'), packagePath('bench', 'pytorch', 'dcgan_vae.py'), packagePath('bench', 'pytorch', 'latent_vae.py')]) {
    assert.ok(existsSync(f), f);
  }
});
