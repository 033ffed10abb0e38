// Data-parallel training and sharded scoring over c10d Gloo on loopback: 2 ranks as child processes, every run
// bounded by a timeout (a hang fails the test instead of blocking the suite).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, withoutNproc, relaunchWithNproc } from '../../src/cli/launch.js';
import { distEnvFromProcess, availableBackends } from '../../src/engine/distributed.js';
import { shardRange } from '../../src/scores/sharded.js';
import { OodgenError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const WORKER = join(here, 'ddp-worker.ts');
const BIN = join(root, 'bin', 'oodgen.js');
const noGloo = availableBackends().gloo ? false : 'this addon was built without Gloo headers (libgloo-dev)';

interface Exit { code: number | null; stderr: string }

/** Runs `args` as `world` ranks (or one plain process when world is 0); kills everything after limitMs. */
async function ranks(world: number, args: string[], limitMs = 90_000, extraEnv: Record<string, string> = {}): Promise<Exit[]> {
  const port = await freePort();
  const n = Math.max(world, 1);
  return Promise.all(Array.from({ length: n }, (_, r) => new Promise<Exit>((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
    delete env.WORLD_SIZE;
    if (world > 0) Object.assign(env, { RANK: String(r), WORLD_SIZE: String(world), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) });
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
  })));
}

const tmp = (): string => tempDir('ddp');
const readJson = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;

test('torchrun-style environment and --nproc are parsed and validated', async () => {
  assert.equal(distEnvFromProcess({}), null);
  assert.deepEqual(distEnvFromProcess({ WORLD_SIZE: '2', RANK: '1', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500' }),
    { rank: 1, worldSize: 2, localRank: 1, masterAddr: '10.0.0.1', masterPort: 29500 });
  assert.throws(() => distEnvFromProcess({ WORLD_SIZE: '2', RANK: '2', MASTER_PORT: '1' }), (e: Error) => e instanceof OodgenError && /RANK=2/.test(e.message));
  assert.throws(() => distEnvFromProcess({ WORLD_SIZE: '2', RANK: '0' }), /MASTER_PORT is not set/);
  assert.deepEqual(withoutNproc(['--threads', '1', 'train', '--nproc', '2', '--out', 'x', '--nproc=3']), ['--threads', '1', 'train', '--out', 'x']);
  // --nproc is validated before anything starts, and N = 1 runs in this process.
  await assert.rejects(relaunchWithNproc({ nproc: '0' }), (e: Error) => e instanceof OodgenError && /--nproc must be a positive integer, got '0'/.test(e.message));
  await assert.rejects(relaunchWithNproc({ nproc: 'two' }), /--nproc must be a positive integer/);
  const one: Record<string, unknown> = { nproc: '1', out: 'x' };
  assert.equal(await relaunchWithNproc(one), false);
  assert.deepEqual(one, { out: 'x' });
  // Balanced contiguous blocks cover every batch once.
  for (const [m, w] of [[5, 2], [1, 2], [7, 3], [4, 4]] as const) {
    const covered = Array.from({ length: w }, (_, r) => shardRange(m, r, w)).flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i));
    assert.deepEqual(covered, Array.from({ length: m }, (_, i) => i));
  }
});

test('c10d collectives over Gloo: allreduce, broadcast, allgather, barrier', { skip: noGloo, timeout: 120_000 }, async () => {
  const dir = tmp();
  try {
    const out = join(dir, 'r.json');
    const ex = await ranks(2, [WORKER, 'collectives', out]);
    for (const e of ex) assert.equal(e.code, 0, e.stderr);
    assert.deepEqual(readJson(out), { sum: [3, 30], max: [1, 0], bcast: [6], gather: [[0, 0], [1, 1]] });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a rank that dies makes the other fail with a clear error, not hang', { skip: noGloo, timeout: 120_000 }, async () => {
  const dir = tmp();
  try {
    const out = join(dir, 'r.json');
    const t0 = Date.now();
    const ex = await ranks(2, [WORKER, 'die', out], 90_000, { TEST_TIMEOUT_MS: '15000' });
    assert.equal(ex[1]!.code, 7);
    assert.equal(ex[0]!.code, 3, ex[0]!.stderr);
    const r = readJson<{ error: string; name: string }>(out);
    assert.equal(r.name, 'OodgenError');
    assert.match(r.error, /c10d allreduce failed on rank 0 of 2 \(gloo/);
    assert.ok(Date.now() - t0 < 60_000);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

for (const optName of ['adam', 'sgd']) test(`2 ranks x batch 32 give the weights of 1 rank x batch 64 after 20 ${optName} steps (BatchNorm-free model)`, { skip: noGloo, timeout: 180_000 }, async () => {
  const dir = tmp();
  try {
    const [a, b] = [join(dir, 'ddp.json'), join(dir, 'one.json')];
    const [two, one] = await Promise.all([ranks(2, [WORKER, 'equiv', a, '32', optName]), ranks(0, [WORKER, 'equiv', b, '64', optName])]);
    for (const e of [...two, ...one]) assert.equal(e.code, 0, e.stderr);
    const wa = readJson<{ world: number; weights: number[][]; leaked: number }>(a);
    const wb = readJson<{ world: number; weights: number[][]; leaked: number }>(b);
    assert.equal(wa.world, 2);
    assert.equal(wb.world, 1);
    assert.equal(wa.leaked, 0);
    let maxDiff = 0;
    wa.weights.forEach((w, i) => w.forEach((v, j) => { maxDiff = Math.max(maxDiff, Math.abs(v - wb.weights[i]![j]!)); }));
    // Float reduction order is the only difference; a rank training on its own gradient, a wrong shard, or a
    // summed instead of averaged gradient (SGD) moves weights by 1e-2 or more.
    assert.ok(maxDiff < 2e-5, `max |w_ddp - w_single| = ${maxDiff}`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('sharded scoring (2 ranks) equals single-process scoring, in the original order, also for a second set', { skip: noGloo, timeout: 180_000 }, async () => {
  const dir = tmp();
  try {
    const [a, b] = [join(dir, 'ddp.json'), join(dir, 'one.json')];
    const [two, one] = await Promise.all([ranks(2, [WORKER, 'score', a]), ranks(0, [WORKER, 'score', b])]);
    for (const e of [...two, ...one]) assert.equal(e.code, 0, e.stderr);
    const ra = readJson<{ score: number[]; columns: Record<string, number[]>; score2: number[] }>(a);
    const rb = readJson<{ score: number[]; columns: Record<string, number[]>; score2: number[] }>(b);
    assert.equal(ra.score.length, 45);
    assert.ok(ra.score.every(Number.isFinite));
    assert.deepEqual(ra.score, rb.score);
    assert.deepEqual(ra.columns, rb.columns);
    assert.equal(ra.score2.length, 23);
    assert.deepEqual(ra.score2, rb.score2);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('evaluate() with a process group (what oodgen eval --nproc 2 runs) gives the single-process table and scores', { skip: noGloo, timeout: 180_000 }, async () => {
  const dir = tmp();
  try {
    const [a, b] = [join(dir, 'ddp.json'), join(dir, 'one.json')];
    const [two, one] = await Promise.all([ranks(2, [WORKER, 'evaluate', a]), ranks(0, [WORKER, 'evaluate', b])]);
    for (const e of [...two, ...one]) assert.equal(e.code, 0, e.stderr);
    const ra = readJson<{ rows: unknown[]; raw: Record<string, Record<string, number[][]>> }>(a);
    const rb = readJson<{ rows: unknown[]; raw: Record<string, Record<string, number[][]>> }>(b);
    assert.equal(ra.raw.iwae!.enc![0]!.length, 33);
    assert.equal(ra.raw.iwae!.enc![1]!.length, 21);
    assert.ok(ra.raw.iwae!.enc!.flat().every(Number.isFinite));
    assert.deepEqual(ra.raw, rb.raw);
    assert.deepEqual(ra.rows, rb.rows);
    // One process scores 4 + 3 batches of 10 per BN mode; the two ranks split them (blocks of 2 + 2 and 2 + 1).
    const count = (p: string): number => Number(readFileSync(p, 'utf8'));
    assert.equal(count(`${b}.batches0`), 14);
    assert.deepEqual([count(`${a}.batches0`), count(`${a}.batches1`)], [8, 6]);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('oodgen train --nproc 2 (Soft-IntroVAE, both optimizers): rank 0 writes the run; stop + --resume with the same N equals an uninterrupted run', { skip: noGloo, timeout: 400_000 }, async () => {
  const dir = tmp();
  try {
    const out = join(dir, 'run'), ref = join(dir, 'ref');
    const common = (o: string) => ['--threads', '1', 'train', '--model', 'sintro', '--data', 'fashion-mnist:train', '--limit', '150', '--width', '4', '--z-dim', '4',
      '--batch-size', '16', '--log-every', '1', '--checkpoint-every', '100', '--progress', 'none', '--out', o];
    const resume = ['--threads', '1', 'train', '--out', out, '--resume', '--progress', 'none'];
    const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: root, encoding: 'utf8', timeout: 150_000, env: { ...process.env, OODGEN_DIST_TIMEOUT_MS: '60000' } });
    const r1 = run([...common(out), '--nproc', '2', '--max-steps', '3']);
    assert.equal(r1.status, 0, r1.stderr);
    assert.equal(JSON.parse(r1.stdout.trim().split('\n').pop()!).step, 3);
    const state = readJson<{ step: number; rng: Record<string, string> }>(join(out, 'state.json'));
    assert.equal(state.step, 3);
    assert.equal(state.rng.worldSize, '2');
    assert.ok(state.rng['noise.rank0'] && state.rng['noise.rank1'] && state.rng['noise.rank0'] !== state.rng['noise.rank1']);
    // 135 training images / (16 x 2) = 4 global steps per epoch; the log is rank 0's alone, one line per step.
    const steps = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; event?: string }).filter((l) => !l.event).map((l) => l.step);
    assert.deepEqual(steps, [1, 2, 3]);
    const r2 = run([...resume, '--max-steps', '6']);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /trained with 2 ranks; resume it with --nproc 2/);
    const r3 = run([...resume, '--nproc', '2', '--max-steps', '6']);
    assert.equal(r3.status, 0, r3.stderr);
    const r4 = run([...common(ref), '--nproc', '2', '--max-steps', '6']);
    assert.equal(r4.status, 0, r4.stderr);
    // Across the epoch boundary (step 4), with each rank's noise stream and both Adam states restored.
    assert.ok(readFileSync(join(out, 'model.safetensors')).equals(readFileSync(join(ref, 'model.safetensors'))), 'resumed weights differ from the uninterrupted run');
    assert.ok(readFileSync(join(out, 'optimizer.safetensors')).equals(readFileSync(join(ref, 'optimizer.safetensors'))), 'resumed optimizer state differs');
    assert.ok(existsSync(join(ref, 'samples.png')));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('oodgen train --restart-from a 2-rank run: continued with --nproc 2 at its place in the epoch; refused in one process', { skip: noGloo, timeout: 400_000 }, async () => {
  const dir = tmp();
  try {
    const src = join(dir, 'src'), zoo = join(dir, 'zoo'), zm = join(zoo, 'm');
    const run = (args: string[]) => spawnSync(process.execPath, [BIN, '--threads', '1', 'train', '--progress', 'none', ...args], { cwd: root, encoding: 'utf8', timeout: 150_000, env: { ...process.env, OODGEN_DIST_TIMEOUT_MS: '60000' } });
    // 135 training images / (16 x 2) = 4 global steps per epoch: 6 steps end in epoch 1, after 2 of its batches.
    const r1 = run(['--model', 'vae', '--data', 'fashion-mnist:train', '--limit', '150', '--width', '4', '--z-dim', '4', '--batch-size', '16', '--checkpoint-every', '100', '--nproc', '2', '--max-steps', '6', '--out', src]);
    assert.equal(r1.status, 0, r1.stderr);
    // Its optimizer state lost, it is exported to a zoo as still training (as scripts/zoo-train.sh's runs are).
    rmSync(join(src, 'optimizer.safetensors'));
    const st = readJson<Record<string, unknown>>(join(src, 'state.json'));
    writeFileSync(join(src, 'state.json'), JSON.stringify({ ...st, done: false, stopReason: 'interrupted (SIGINT)' }));
    const ex = spawnSync(process.execPath, [join(root, 'scripts', 'zoo-export.mjs'), src, 'm', 'oodgen train (test)', '--zoo', zoo], { encoding: 'utf8' });
    assert.equal(ex.status, 0, ex.stderr);
    const resume = readJson<{ resume: Record<string, number> }>(join(zm, 'status.json')).resume;
    assert.deepEqual([resume.step, resume.epoch, resume.batchInEpoch, resume.ranks], [6, 1, 2, 2]);
    // One process would count its steps in batches of 16, not 32: refused, from the zoo and from the run folder.
    for (const from of [zm, src]) {
      const r = run(['--restart-from', from, '--out', join(dir, 'one'), '--max-steps', '8']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /trained with 2 rank\(s\), each step a global batch of 2 x 16 images; restart it with --nproc 2 \(got 1\)/);
      assert.equal(existsSync(join(dir, 'one', 'state.json')), false);
    }
    // With 2 ranks it goes on from step 6 (epoch 1, batch 2) to epoch 2's end at step 8.
    const two = join(dir, 'two');
    const r2 = run(['--restart-from', zm, '--nproc', '2', '--out', two, '--max-steps', '8']);
    assert.equal(r2.status, 0, r2.stderr);
    const s2 = readJson<{ step: number; epoch: number; batchInEpoch: number; rng: Record<string, string> }>(join(two, 'state.json'));
    assert.deepEqual([s2.step, s2.epoch, s2.batchInEpoch, s2.rng.worldSize], [8, 2, 0, '2']);
    const log = readFileSync(join(two, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; epoch: number; event?: string; batchInEpoch?: number });
    assert.deepEqual(log.filter((l) => l.event === 'epoch').map((l) => [l.step, l.epoch]), [[4, 1], [8, 2]]);
    const ev = log.find((l) => l.event === 'restart')!;
    assert.deepEqual([ev.step, ev.epoch, ev.batchInEpoch], [6, 1, 2]);
    assert.equal(readJson<{ restartedFrom: { weights: string } }>(join(two, 'config.json')).restartedFrom.weights, join(zm, 'last.safetensors'));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
