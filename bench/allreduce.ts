// `oodgen bench allreduce`: the cost data-parallel training adds per step on this machine: one c10d all-reduce of
// the gradients (one flat float32 buffer, SUM, as src/train/ddp.ts does), timed alone between 2 ranks (Gloo over
// loopback). Default size: the gradient count of the Gaussian VAE that `oodgen bench ddp` trains. Without WORLD_SIZE
// in the environment it launches itself as 2 ranks of one thread each (oodgen launch); rank 0 prints the result.
import { Writable } from 'node:stream';
import { launch } from '../src/cli/launch.js';
import { distEnvFromProcess, ProcessGroup } from '../src/engine/distributed.js';
import { zeros, ones, buildInfo } from '../src/engine/index.js';
import { createModel } from '../src/models/factory.js';
import { OodgenError } from '../src/errors.js';

/** Parameters of the Fashion-MNIST Gaussian VAE of bench ddp (z 32, width 64, 1x32x32). */
export function vaeGradientCount(): number {
  const m = createModel({ kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 32, zDim: 32, width: 64 });
  const n = m.parameters().reduce((a, p) => a + p.numel, 0);
  m.dispose();
  return n;
}

export async function benchAllreduce(o: { numel?: number; iters?: number; nproc?: number }): Promise<string | null> {
  const numel = o.numel ?? vaeGradientCount();
  const iters = o.iters ?? 30;
  const env = distEnvFromProcess();
  if (!env) {
    let out = '';
    const sink = new Writable({ write(c, _e, cb) { out += c; cb(); } });
    let errText = '';
    const err = new Writable({ write(c, _e, cb) { errText += c; cb(); } });
    const code = await launch({ nproc: o.nproc ?? 2, args: ['--threads', '1', 'bench', 'allreduce', '--numel', String(numel), '--iters', String(iters)], stdout: sink, stderr: err });
    if (code !== 0) throw new OodgenError(`bench allreduce: the ranks failed (status ${code}):\n${errText.slice(-2000)}`);
    return out.trim().split('\n').pop() ?? null;
  }
  const pg = ProcessGroup.init(env, { device: 'cpu' });
  const t = zeros([numel]);
  const times: number[] = [];
  try {
    for (let i = 0; i < iters + 3; i++) {
      pg.barrier();
      const t0 = process.hrtime.bigint();
      pg.allreduce(t, 'sum');
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (i >= 3) times.push(ms);
    }
    // The sum is checked, so a broken collective cannot pass for a fast one.
    const probe = ones([4]);
    pg.allreduce(probe, 'sum');
    const v = probe.toFloat32Array();
    probe.dispose();
    if (!v.every((x) => x === env.worldSize)) throw new OodgenError(`bench allreduce: the sum of ones over ${env.worldSize} ranks gave ${Array.from(v).join(', ')}`);
  } finally {
    t.dispose();
    pg.destroy();
  }
  if (env.rank !== 0) return null;
  const s = [...times].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return JSON.stringify({ ranks: env.worldSize, numel, mb: (numel * 4) / 1e6, iters, median_ms: median, min_ms: s[0], max_ms: s[s.length - 1], backend: pg.backend, torch: buildInfo().torchVersion });
}
