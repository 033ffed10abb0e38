// scripts/zoo-train.sh's EXPORT_TO: the queue exports each run into a zoo folder while it trains and once more when
// it ends, so a session cut off before its own export keeps the last epoch; without EXPORT_TO nothing is exported.
// Runs the script's tiny `selftest` queue (a width-4 VAE, two epochs of 512 Fashion-MNIST images: seconds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { dataIdentity } from '../../src/benchmark/pairs.js';
import { tempDir } from '../helpers/tmp.js';

const script = new URL('../../scripts/zoo-train.sh', import.meta.url).pathname;
const skip = dataIdentity('fashion-mnist:train').ok ? false : 'fashion-mnist:train is not on this machine';
const queue = (runs: string, env: Record<string, string>) => {
  const r = spawnSync('bash', [script, 'selftest', runs], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
};

test('zoo-train.sh EXPORT_TO exports the run into the zoo folder when it ends, with the command that ran it', { skip, timeout: 180_000 }, (t) => {
  const dir = tempDir('zoo-train', t);
  const zoo = join(dir, 'zoo');
  // (EXPORT_POLL 0: the watcher polls without pause, so it sees epoch 1's line long before the run's only checkpoint)
  const lines = queue(join(dir, 'runs'), { EXPORT_TO: zoo, EXPORT_POLL: '0' });
  assert.deepEqual(lines.filter((l) => 'exportFailed' in l), []);
  const last = lines.at(-1)!;
  assert.deepEqual([last.exported, last.when], [join(zoo, 'zoo-selftest'), 'when it stopped (rc 0)']);
  const status = JSON.parse(readFileSync(join(zoo, 'zoo-selftest', 'status.json'), 'utf8'));
  // the epoch cap (2) ended it: done, not converged, no restart point left behind
  assert.deepEqual([status.done, status.converged, status.stopReason, status.epoch], [true, false, 'epochs', 2]);
  assert.equal(existsSync(join(zoo, 'zoo-selftest', 'last.safetensors')), false);
  const command = readFileSync(join(zoo, 'zoo-selftest', 'command.txt'), 'utf8');
  assert.match(command, /^nice -n 10 node bin\/oodgen\.js --threads 1 train --model vae --data fashion-mnist:train --limit 512 .* --epochs 2 --patience 5 --progress json --out \S+\/runs\/zoo-selftest {3}# queue selftest of scripts\/zoo-train\.sh; exported by it when it stopped \(rc 0\)\n$/);
  // Before the run's first checkpoint there is nothing to export: the watcher waits for it without logging refusals.
  assert.doesNotMatch(readFileSync(join(dir, 'runs', 'zoo-selftest.out'), 'utf8'), /zoo-export: .*is missing/);
  // No temporary files left in the zoo folder (each file is written beside it and renamed).
  assert.deepEqual(readdirSync(join(zoo, 'zoo-selftest')).filter((f) => f.startsWith('.')), []);
  // A second run finds the run finished: nothing trains, nothing is exported again.
  const again = queue(join(dir, 'runs'), { EXPORT_TO: zoo, EXPORT_POLL: '1' });
  assert.deepEqual(again, [{ queue: 'selftest', model: 'zoo-selftest', finished: true }]);
});

test('zoo-train.sh without EXPORT_TO exports nothing', { skip, timeout: 180_000 }, (t) => {
  const dir = tempDir('zoo-train-plain', t);
  const lines = queue(join(dir, 'runs'), {});
  assert.deepEqual(lines.map((l) => Object.keys(l).filter((k) => k !== 'start' && k !== 'end' && k !== 'resume' && k !== 'restart' && k !== 'rc')), [['queue', 'model'], ['queue', 'model']]);
  assert.equal(lines.at(-1)!.rc, 0);
  assert.deepEqual(readdirSync(dir).sort(), ['runs']);
});
