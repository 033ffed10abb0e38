// `oodgen serve` as a process: calibrate on a folder of PNGs, answer a request, finish an in-flight request on
// SIGTERM and exit 0; a batch-statistics BN mode is refused with exit status 1 and one clear line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { blobs, encodeImage, tinyRun } from './helpers.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/oodgen.js');

test('oodgen serve: calibrates, answers, and on SIGTERM finishes the in-flight request and exits 0', async () => {
  const run = await tinyRun();
  try {
    const data = join(run.root, 'id');
    mkdirSync(data);
    const set = blobs(24, 5);
    for (let i = 0; i < 24; i++) writeFileSync(join(data, `${String(i).padStart(2, '0')}.png`), await encodeImage(set, i));
    const child = spawn(process.execPath, [BIN, 'serve', '--checkpoint', run.dir, '--detector', 'elbo', '--calibrate', data, '--tpr', '1',
      '--port', '0', '--max-wait', '400', '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const address = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(`serve exited early: ${err}`)));
    });
    assert.ok(existsSync(join(run.dir, 'calibration-elbo.json')));
    assert.match(err, /calibrating elbo on 24 images/);
    // A calibration image: at TPR 1 the threshold is the largest calibration score, so it must pass (and its score
    // matches only if the request is prepared exactly like the folder was).
    const png = new Uint8Array(await encodeImage(set, 3));
    const inflight = fetch(`${address}/v1/score`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
    await new Promise((r) => setTimeout(r, 150)); // received, waiting up to 400 ms for batch-mates
    child.kill('SIGTERM');
    const r = await inflight;
    assert.equal(r.status, 200);
    const body = (await r.json()) as { results: { ood: boolean; threshold: number; score: number }[] };
    assert.equal(body.results[0]!.ood, false);
    const cal = JSON.parse(readFileSync(join(run.dir, 'calibration-elbo.json'), 'utf8')) as { scores: number[]; threshold: number };
    assert.ok(cal.scores.includes(body.results[0]!.score), `score ${body.results[0]!.score} is one of the calibration scores`);
    assert.equal(body.results[0]!.threshold, cal.threshold);
    assert.equal(await exited, 0, err);
    assert.match(err, /SIGTERM, finishing in-flight requests[\s\S]*stopped/);
  } finally {
    run.cleanup();
  }
});

test('oodgen serve refuses batch-statistics scoring and a missing calibration with one line, exit 1', async () => {
  const run = await tinyRun();
  try {
    const bn = spawnSync(process.execPath, [BIN, 'serve', '--checkpoint', run.dir, '--detector', 'elbo', '--bn', 'both', '--calibrate', 'noise:8'], { encoding: 'utf8' });
    assert.equal(bn.status, 1, bn.stderr);
    assert.match(bn.stderr, /^oodgen: BatchNorm mode 'both' normalises with batch statistics.*--bn eval/m);
    const nocal = spawnSync(process.execPath, [BIN, 'serve', '--checkpoint', run.dir, '--detector', 'rec'], { encoding: 'utf8' });
    assert.equal(nocal.status, 1, nocal.stderr);
    assert.match(nocal.stderr, /calibration-rec\.json: no calibration.*--calibrate DATA/);
  } finally {
    run.cleanup();
  }
});
