// OoD gate load benchmark (issue 14, item 5; a benchmark, never a test). Bounded in time and request count:
//  1. trains a small VAE (default width 16, z 16, 1x28x28) for a few steps on Fashion-MNIST (throughput does not depend on
//     how well it is trained), unless --checkpoint RUN is given;
//  2. batch throughput of the same model and detector through `oodgen score` (batch 64) on Fashion-MNIST test;
//  3. starts `oodgen serve` (calibrated on Fashion-MNIST test; --workers scoring workers of --worker-threads libtorch
//     threads each) as a child process and drives POST /v1/score with one Fashion-MNIST PNG per request, at the
//     model's input size as `oodgen score` sees the images, through autocannon at 1, 8 and 64 concurrent clients
//     (images/s, p50/p99);
//  4. RSS (and live tensors) of the server from /metrics before and after 10,000 more requests.
// Run: npm run bench:serve [-- --checkpoint RUN | --width 16 --z-dim 16] [--detector elbo --requests 10000 --workers 0
//      --worker-threads 1 --json out.json]
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { loadDataset } from '../src/data/registry.js';

const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/oodgen.js');
const { values: a } = parseArgs({
  options: {
    checkpoint: { type: 'string' }, detector: { type: 'string', default: 'elbo' }, requests: { type: 'string', default: '10000' },
    levels: { type: 'string', default: '1,8,64' }, 'per-level': { type: 'string', default: '1500' }, 'max-batch': { type: 'string', default: '64' },
    'max-wait': { type: 'string', default: '2' }, json: { type: 'string' }, width: { type: 'string', default: '16' }, 'z-dim': { type: 'string', default: '16' },
    workers: { type: 'string', default: '0' }, 'worker-threads': { type: 'string', default: '1' },
  },
});
const tmp = mkdtempSync(join(tmpdir(), 'oodgen-bench-serve-'));
const log = (s: string) => process.stderr.write(s + '\n');

/** Runs the CLI; returns its stdout and its CPU seconds (user + system, GNU time). */
function oodgen(args: string[]): { stdout: string; cpuS: number } {
  const r = spawnSync('/usr/bin/time', ['-f', 'CPU %U %S', process.execPath, BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`oodgen ${args.join(' ')} failed:\n${r.stderr}`);
  const m = /CPU (\S+) (\S+)\s*$/.exec(r.stderr);
  return { stdout: r.stdout, cpuS: m ? Number(m[1]) + Number(m[2]) : NaN };
}

async function main() {
  const loadBefore = loadavg();
  let run = a.checkpoint;
  if (run) {
    // A copy, so that the calibration `oodgen serve --calibrate` saves lands in the temporary folder, not the zoo.
    const copy = join(tmp, 'run');
    mkdirSync(copy);
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(run, f), join(copy, f));
    run = copy;
  } else {
    run = join(tmp, 'run');
    log(`training a VAE (width ${a.width}, z ${a['z-dim']}, 30 steps) ...`);
    oodgen(['train', '--model', 'vae', '--data', 'fashion-mnist:train', '--limit', '2000', '--image-size', '28', '--width', a.width!, '--z-dim', a['z-dim']!,
      '--max-steps', '30', '--batch-size', '64', '--val-limit', '64', '--progress', 'none', '--out', run]);
  }
  const det = a.detector!;

  log('batch throughput through oodgen score ...');
  const scoreOut = join(tmp, 'score.json');
  const scoreArgs = (n: number) => ['score', '--checkpoint', run!, '--data', 'fashion-mnist:test', '--limit', String(n), '--score', det, '--batch-size', '64', '--out', scoreOut];
  // CPU per image of the scoring itself: the difference of two runs that differ only in the number of images.
  const batchRun = () => {
    const small = oodgen(scoreArgs(500));
    const full = oodgen(scoreArgs(5000));
    const r = JSON.parse(readFileSync(scoreOut, 'utf8')) as { imagesPerSecond: number };
    return { imagesPerSecond: r.imagesPerSecond, cpuMsPerImage: ((full.cpuS - small.cpuS) * 1000) / 4500 };
  };
  // Measured before and after the service, since on a shared machine the load moves in between; the ratio uses
  // their mean.
  const batchBefore = batchRun();
  log(`batch ${batchBefore.imagesPerSecond.toFixed(0)} images/s`);

  // Request bodies: 32 Fashion-MNIST test images as PNGs at the model's input size (the zoo model takes 32x32), the
  // images `oodgen score` scores; a client sending another size costs the server a resize (sharp) per image.
  const size = (JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { model: { imageSize: number } }).model.imageSize;
  const { set } = await loadDataset('fashion-mnist:test', { imageSize: size, channels: 1, limit: 32 });
  const px = size * size;
  const pngs = await Promise.all(Array.from({ length: 32 }, (_, i) => sharp(Buffer.from(Array.from(set.images.subarray(i * px, (i + 1) * px), (v) => Math.round(v * 255))), { raw: { width: size, height: size, channels: 1 } }).png().toBuffer()));

  log('starting oodgen serve ...');
  const child = spawn(process.execPath, [BIN, 'serve', '--checkpoint', run, '--detector', det, '--calibrate', 'fashion-mnist:test', '--calibrate-limit', '1000',
    '--port', '0', '--max-batch', a['max-batch']!, '--max-wait', a['max-wait']!, '--log-level', 'warn', '--max-images', '64',
    '--workers', a.workers!, '--worker-threads', a['worker-threads']!], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.on('exit', () => reject(new Error(`serve exited: ${err}`)));
  });
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
  // The server's own CPU time (user + system, /proc/PID/stat fields 14-15 in clock ticks of 1/100 s): on a shared
  // machine wall-clock throughput mixes in the load generator and other jobs; CPU ms per image does not.
  const cpuMs = (): number => {
    try {
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      return NaN;
    }
  };
  const batchStats = async () => {
    const t = await (await fetch(`${url}/metrics`)).text();
    return { sum: Number(/^oodgen_batch_size_sum (\S+)/m.exec(t)?.[1]), count: Number(/^oodgen_batch_size_count (\S+)/m.exec(t)?.[1]) };
  };
  const requests = pngs.map((body) => ({ method: 'POST' as const, path: '/v1/score', headers: { 'content-type': 'image/png' }, body }));
  // autocannon ends a run of `amount` requests at its next sample tick (every sampleInt ms, default 1,000), so with
  // the default a run's duration, and images/s, came out in whole seconds (a 1.1 s run counted as 2 s); 20 ms ticks
  // keep the error under 2% of a run of a second or more.
  const load = (connections: number, amount: number) => autocannon({ url, connections, amount, requests, timeout: 30, sampleInt: 20 });

  try {
    await load(8, 300); // warm-up
    const levels: Record<string, unknown>[] = [];
    for (const c of a.levels!.split(',').map(Number)) {
      const cpu0 = cpuMs(), b0 = await batchStats(), client0 = process.cpuUsage();
      const r = await load(c, Math.max(Number(a['per-level']), c * 20));
      const client = process.cpuUsage(client0), cpu1 = cpuMs(), b1 = await batchStats();
      // The load generator's own CPU (this process): on two cores it is taken from the server.
      const clientCpuMsPerImage = (client.user + client.system) / 1000 / r.requests.total;
      const imagesPerSecond = r.requests.total / r.duration;
      const serverCpuMsPerImage = (cpu1 - cpu0) / r.requests.total;
      const meanBatch = (b1.sum - b0.sum) / (b1.count - b0.count);
      levels.push({ clients: c, requests: r.requests.total, non2xx: r.non2xx, errors: r.errors, imagesPerSecond, p50ms: r.latency.p50, p99ms: r.latency.p99, serverCpuMsPerImage, clientCpuMsPerImage, meanBatch });
      log(`${c} clients: ${imagesPerSecond.toFixed(0)} images/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms (${r.requests.total} requests, ${r.non2xx} non-2xx, ${r.errors} errors); server CPU ${serverCpuMsPerImage.toFixed(2)} ms/image, client CPU ${clientCpuMsPerImage.toFixed(2)} ms/image, mean batch ${meanBatch.toFixed(1)}`);
    }
    log('batch throughput again ...');
    const batchAfter = batchRun();
    const batch = { imagesPerSecond: (batchBefore.imagesPerSecond + batchAfter.imagesPerSecond) / 2, before: batchBefore.imagesPerSecond, after: batchAfter.imagesPerSecond };
    const batchCpuMsPerImage = (batchBefore.cpuMsPerImage + batchAfter.cpuMsPerImage) / 2;
    const n = Number(a.requests);
    const rssBefore = await metric('oodgen_resident_memory_bytes');
    const tensorsBefore = await metric('oodgen_live_tensors');
    const r = await load(8, n);
    const rssAfter = await metric('oodgen_resident_memory_bytes');
    const tensorsAfter = await metric('oodgen_live_tensors');
    const out = {
      detector: det, checkpoint: a.checkpoint ?? `VAE width ${a.width}, z ${a['z-dim']}, 1x28x28, 30 steps on fashion-mnist`, cpus: cpus().length, loadavgBefore: loadBefore, loadavgAfter: loadavg(),
      serve: { workers: Number(a.workers), workerThreads: Number(a['worker-threads']), maxBatch: Number(a['max-batch']), maxWaitMs: Number(a['max-wait']) },
      batch: { command: `oodgen score --score ${det} --batch-size 64 --data fashion-mnist:test --limit 5000`, ...batch, cpuMsPerImage: batchCpuMsPerImage },
      levels,
      memory: { requests: r.requests.total, non2xx: r.non2xx, rssBeforeMB: rssBefore / 2 ** 20, rssAfterMB: rssAfter / 2 ** 20, growthMB: (rssAfter - rssBefore) / 2 ** 20, tensorsBefore, tensorsAfter },
    };
    const at64 = levels.find((l) => l.clients === 64) as { imagesPerSecond: number } | undefined;
    log(`batch ${batch.imagesPerSecond.toFixed(0)} images/s (before ${batch.before.toFixed(0)}, after ${batch.after.toFixed(0)}; CPU ${batchCpuMsPerImage.toFixed(2)} ms/image); service at 64 clients ${at64 ? ((100 * at64.imagesPerSecond) / batch.imagesPerSecond).toFixed(0) : '?'}% of it; RSS ${out.memory.rssBeforeMB.toFixed(1)} -> ${out.memory.rssAfterMB.toFixed(1)} MB over ${r.requests.total} requests`);
    console.log(JSON.stringify(out, null, 1));
    if (a.json) writeFileSync(a.json, JSON.stringify(out, null, 1) + '\n');
  } finally {
    child.kill('SIGTERM');
    await new Promise((res) => child.on('exit', res));
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
