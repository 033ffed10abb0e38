// `oodgen zoo`: every model folder of a zoo with its model, data, size and training status; a broken folder is
// listed with its problem instead of hiding the others; a missing zoo is an error naming it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { listZoo } from '../../src/benchmark/models.js';
import { registerZooCommand } from '../../src/cli/zoo.js';
import { TINY, writeRun } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('zoo-list');
after(() => rmSync(dir, { recursive: true, force: true }));

test('listZoo and `oodgen zoo`: status per model, broken folders named, stray entries ignored', async () => {
  const zoo = join(dir, 'zoo');
  const conv = writeRun(zoo, 'b-conv', TINY, 1);
  writeFileSync(join(conv, 'status.json'), JSON.stringify({ step: 90, epoch: 9, bestStep: 80, lastEpoch: { epoch: 9 }, converged: true, done: true, stopReason: 'early-stopping' }));
  const mid = writeRun(zoo, 'a-mid', { ...TINY, decoder: 'categorical', sigma2: undefined }, 2);
  writeFileSync(join(mid, 'status.json'), JSON.stringify({ step: 40, epoch: 4, bestStep: 30, lastEpoch: { epoch: 4 }, converged: false, done: false, stopReason: 'still training (exported mid-run)' }));
  const torn = writeRun(zoo, 'c-torn', TINY, 3);
  writeFileSync(join(torn, 'status.json'), '{ torn');
  const noWeights = writeRun(zoo, 'd-noweights', TINY, 4);
  unlinkSync(join(noWeights, 'model.safetensors'));
  writeRun(zoo, 'e-ae', { ...TINY, kind: 'ae' }, 5);
  mkdirSync(join(zoo, 'f-empty'));
  writeFileSync(join(zoo, 'README.md'), '# not a model\n');

  const rows = listZoo(zoo);
  assert.deepEqual(rows.map((r) => r.name), ['a-mid', 'b-conv', 'c-torn', 'd-noweights', 'e-ae']);
  const [a, b, c, d, e] = rows;
  assert.deepEqual(a, { name: 'a-mid', model: 'vae categorical z4 w4 1x28x28', data: 'gaussian-noise:64', bytes: statSync(join(mid, 'model.safetensors')).size,
    training: { done: false, converged: false, text: 'NOT CONVERGED: exported while still training, at epoch 4 (step 40); best-validation weights of step 30' } });
  assert.equal(b!.training!.text, 'converged: early stopping ended it at epoch 9; best-validation weights of step 80');
  assert.match(c!.problem!, /c-torn\/status\.json: not readable JSON/);
  assert.match(d!.problem!, /d-noweights\/model\.safetensors is missing/);
  assert.equal(e!.model, 'ae z4 w4 1x28x28');
  assert.equal(e!.training!.converged, null);

  const run = async (args: string[]) => {
    let text = '';
    const program = new Command('oodgen').exitOverride();
    registerZooCommand(program, { write: (s) => { text += s; } });
    await program.parseAsync(['node', 'oodgen', 'zoo', '--zoo', zoo, ...args]);
    return text;
  };
  const table = (await run([])).split('\n');
  assert.equal(table[0], `zoo ${zoo}: 5 models`);
  assert.equal(table[1], `  a-mid        vae categorical z4 w4 1x28x28  gaussian-noise:64  ${(a!.bytes! / 1e6).toFixed(1).padStart(5)} MB  ${a!.training!.text}`);
  assert.match(table[3]!, /^ {2}c-torn +NOT USABLE: .*not readable JSON/);
  const json = JSON.parse(await run(['--json'])) as { zoo: string; models: unknown[] };
  assert.equal(json.zoo, zoo);
  assert.deepEqual(json.models, JSON.parse(JSON.stringify(rows)));
  assert.throws(() => listZoo(join(dir, 'nowhere')), /zoo folder .*nowhere does not exist/);
});
