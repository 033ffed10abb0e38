// Every committed zoo model's command.txt is the command that made it: its first `train` line, parsed by the CLI's
// own option parser, gives the model, data and training settings recorded in the model's config.json (the run's own
// record). A command edited by hand, or a queue line that drifted from what ran, fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainOptions } from '../../src/cli/train-options.js';
import { resolveModelConfig } from '../../src/models/registry.js';

const zoo = new URL('../../zoo/', import.meta.url).pathname;
const models = existsSync(zoo) ? readdirSync(zoo).filter((n) => existsSync(join(zoo, n, 'command.txt'))) : [];

/** `--kebab-case value` pairs after `train` -> the raw option object commander would give (strings; flags true). */
function rawOptions(line: string): Record<string, unknown> {
  const args = line.replace(/#.*$/, '').trim().split(/\s+/);
  const at = args.indexOf('train');
  assert.ok(at >= 0, `no 'train' in: ${line}`);
  const raw: Record<string, unknown> = {};
  for (let i = at + 1; i < args.length; i++) {
    const a = args[i]!;
    assert.ok(a.startsWith('--'), `unexpected argument '${a}' in: ${line}`);
    const key = a.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const next = args[i + 1];
    // commander's negatable flags: --no-grids gives { grids: false }
    if (/^no[A-Z]/.test(key) && (next === undefined || next.startsWith('--'))) raw[key[2]!.toLowerCase() + key.slice(3)] = false;
    else if (next === undefined || next.startsWith('--')) raw[key] = true;
    else { raw[key] = next; i++; }
  }
  return raw;
}

test('zoo/*/command.txt reproduces each model\'s config.json (model, data, batch size, learning rate, seed, patience, mutation)', { skip: models.length === 0 && 'no zoo models in this checkout' }, async () => {
  assert.ok(models.length >= 10, `zoo models found: ${models.join(', ')}`);
  for (const name of models) {
    const first = readFileSync(join(zoo, name, 'command.txt'), 'utf8').split('\n').find((l) => / train /.test(l) && !l.trim().startsWith('#'));
    assert.ok(first, `${name}: command.txt has no train line`);
    const raw = rawOptions(first);
    assert.notEqual(raw.resume, true, `${name}: the first train line must be the one that started the run`);
    // Where a model trained (a lent GPU's --device cuda) is not part of it, and this machine may have no such device.
    assert.ok(raw.device === undefined || /^(cpu|cuda(:\d+)?)$/.test(String(raw.device)), `${name}: --device ${String(raw.device)}`);
    delete raw.device;
    const o = await parseTrainOptions(raw, ['node', 'oodgen', 'train']);
    const cfg = JSON.parse(readFileSync(join(zoo, name, 'config.json'), 'utf8'));
    assert.deepEqual(resolveModelConfig(o.model!), resolveModelConfig(cfg.model), `${name}: model`);
    assert.equal(o.data, cfg.data.train, `${name}: data`);
    assert.equal(o.batchSize, cfg.training.batchSize, `${name}: batch size`);
    assert.equal(o.lr, cfg.training.lr, `${name}: learning rate`);
    assert.equal(o.seed, cfg.seed, `${name}: seed`);
    assert.equal(o.epochs ?? null, cfg.training.epochs ?? null, `${name}: epochs`);
    assert.equal(o.patience ?? null, cfg.training.patience ?? null, `${name}: patience`);
    assert.equal(o.mutate ?? null, cfg.data.mutate ?? null, `${name}: --mutate`);
  }
});
