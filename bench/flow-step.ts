// `oodgen bench flow-step`: one training step of the flow models (issue 16: f-VAE, Glow), forward / backward / Adam
// timed separately, beside the same model in PyTorch (bench/pytorch/flow_step.py builds it from the transcriptions
// tests/fixtures/fvae_ref.py and glow_ref.py and loads oodgen's weights with strict=True). Rounds alternate oodgen
// (in this process) and PyTorch (a fresh process) with the same threads and batch; each reports the median of its
// timed steps. A profile pass counts native calls (and the tensors they return) per phase. With two --layouts the
// coupling networks' CPU layout (flow-layers.ts couplingConvLayout) alternates step by step in both engines, so the
// layouts are compared under the same load.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Generator, tidy, rand, liveTensors, setNumThreads, getNumThreads, buildInfo, type Tensor } from '../src/engine/index.js';
import type { Module } from '../src/nn/module.js';
import { native } from '../src/engine/native.js';
import { createModel } from '../src/models/factory.js';
import { modelFamily, resolveModelConfig } from '../src/models/registry.js';
import type { ModelConfig, TrainableModel } from '../src/models/types.js';
import { Adam } from '../src/optim/index.js';
import { saveStateDict, saveTensors } from '../src/io/checkpoint.js';
import { packagePath } from '../src/package-root.js';
import { OodgenError } from '../src/errors.js';
import { couplingConvLayout } from '../src/models/flow-layers.js';
import type { MemoryFormat } from '../src/engine/memory-format.js';

export interface FlowStepBenchOptions {
  model: 'fvae' | 'glow';
  channels: 1 | 3;
  /** f-VAE latent size (default dim(x)); ignored by Glow. */
  zDim?: number;
  sigma2?: number | 'learned';
  batch: number;
  steps: number;
  warmup: number;
  rounds: number;
  threads: number;
  /** Python with torch, or null for oodgen alone. */
  python: string | null;
  /** Coupling-network layouts to time (alternating step by step); default the library's own. */
  layouts?: MemoryFormat[];
}

/**
 * Medians of one step's phases, and of its kernel time and involuntary context switches: on this shared machine other
 * processes' wakeups can preempt a step tens of thousands of times a second, which shows as system time in both
 * engines alike, so a slow round can be told from a slow engine.
 */
interface Phases { fwd_ms: number; bwd_ms: number; opt_ms: number; step_ms: number; sys_ms: number; preempt: number }

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const medians = (ts: Phases[]): Phases => ({
  fwd_ms: median(ts.map((t) => t.fwd_ms)), bwd_ms: median(ts.map((t) => t.bwd_ms)),
  opt_ms: median(ts.map((t) => t.opt_ms)), step_ms: median(ts.map((t) => t.step_ms)),
  sys_ms: median(ts.map((t) => t.sys_ms)), preempt: median(ts.map((t) => t.preempt)),
});

/** What the bench needs of f-VAE and Glow: a module with the training loss of one batch. */
type FlowModel = Module & TrainableModel & { loss(x: Tensor, generator?: Generator): { loss: Tensor } };

/** The model config `oodgen train --model KIND` builds for 32x32 images (family defaults, then resolveConfig). */
export function flowBenchConfig(o: Pick<FlowStepBenchOptions, 'model' | 'channels' | 'zDim' | 'sigma2'>): ModelConfig {
  const d = modelFamily(o.model).defaults('bench');
  const dims = o.channels * 32 * 32;
  const base: ModelConfig = {
    kind: o.model, decoder: 'gaussian', channels: o.channels, imageSize: 32, zDim: o.zDim ?? dims, width: d.width,
    ...(o.model === 'fvae' ? { sigma2: o.sigma2 ?? 0.1 } : {}),
  };
  return resolveModelConfig(base);
}

export function benchFlowStep(o: FlowStepBenchOptions) {
  if (o.model !== 'fvae' && o.model !== 'glow') throw new OodgenError(`bench flow-step: --model must be fvae or glow, got '${o.model}'`);
  // The PyTorch side builds the model from the transcriptions in tests/fixtures, which only a checkout has.
  if (o.python && !existsSync(packagePath('tests', 'fixtures', 'glow_ref.py'))) {
    throw new OodgenError('bench flow-step: the PyTorch side needs the transcriptions in tests/fixtures (fvae_ref.py, glow_ref.py), which ship only in a checkout; run it there, or pass --no-python');
  }
  setNumThreads(o.threads);
  const config = flowBenchConfig(o);
  const model = createModel<FlowModel>(config, { generator: Generator.cpu(1) });
  model.train();
  const opt = new Adam(model.parameters(), { lr: 1e-4 });
  const x = rand([o.batch, o.channels, 32, 32], { generator: Generator.cpu(2) });
  const g = Generator.cpu(3);
  const hr = () => Number(process.hrtime.bigint()) / 1e6;
  const step = (): Phases => tidy(() => {
    const u0 = process.resourceUsage();
    const t0 = hr();
    opt.zeroGrad();
    const { loss } = model.loss(x, g);
    const t1 = hr();
    loss.backward();
    const t2 = hr();
    opt.step();
    const t3 = hr();
    const u1 = process.resourceUsage();
    return { fwd_ms: t1 - t0, bwd_ms: t2 - t1, opt_ms: t3 - t2, step_ms: t3 - t0, sys_ms: (u1.systemCPUTime - u0.systemCPUTime) / 1e3, preempt: u1.involuntaryContextSwitches - u0.involuntaryContextSwitches };
  });
  step(); // the first training forward initialises actnorm (data-dependent), so PyTorch gets initialised weights
  const dir = mkdtempSync(join(tmpdir(), 'oodgen-flow-bench-'));
  try {
    saveStateDict(join(dir, 'model.safetensors'), model);
    saveTensors(join(dir, 'inputs.safetensors'), new Map([['x', x]]));

    // Profile pass: native calls per phase, and how many of them return a tensor (allocations seen from JS).
    let calls = 0, tensors = 0;
    const orig = native.call, origBackward = native.backward;
    native.call = (h, a) => {
      const r = orig(h, a);
      calls++;
      if (r !== null && typeof r === 'object') tensors += Array.isArray(r) ? r.length : 1;
      return r;
    };
    // The backward pass is one call into libtorch's autograd engine, which allocates the gradients natively.
    native.backward = (...a: Parameters<typeof origBackward>) => { calls++; return origBackward(...a); };
    const counts: Record<string, { calls: number; tensors: number }> = {};
    try {
      tidy(() => {
        const mark = (name: string) => { counts[name] = { calls, tensors }; calls = 0; tensors = 0; };
        calls = 0; tensors = 0;
        opt.zeroGrad();
        const { loss } = model.loss(x, g);
        mark('forward');
        loss.backward();
        mark('backward');
        opt.step();
        mark('optimizer');
      });
    } finally {
      native.call = orig;
      native.backward = origBackward;
    }

    const layouts = o.layouts ?? [couplingConvLayout.cpu];
    const saved = couplingConvLayout.cpu;
    const ours = new Map<MemoryFormat, Phases[]>(layouts.map((l) => [l, []]));
    const theirs = new Map<MemoryFormat, Phases[]>(layouts.map((l) => [l, []]));
    const live0 = liveTensors();
    try {
      for (let r = 0; r < o.rounds; r++) {
        for (let i = 0; i < o.warmup; i++) for (const l of layouts) { couplingConvLayout.cpu = l; step(); }
        const times = new Map<MemoryFormat, Phases[]>(layouts.map((l) => [l, []]));
        for (let i = 0; i < o.steps; i++) {
          // reversed every other step, so a drift in the machine's load falls on every layout alike
          for (const l of i % 2 ? [...layouts].reverse() : layouts) { couplingConvLayout.cpu = l; times.get(l)!.push(step()); }
        }
        for (const l of layouts) ours.get(l)!.push(medians(times.get(l)!));
        if (o.python) {
          const p = spawnSync(o.python, [packagePath('bench', 'pytorch', 'flow_step.py'), JSON.stringify(config), join(dir, 'model.safetensors'), join(dir, 'inputs.safetensors'),
            String(o.steps), String(o.warmup), String(o.threads), layouts.join(',')], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(o.threads) }, maxBuffer: 16 << 20 });
          if (p.status !== 0) throw new OodgenError(`bench flow-step: PyTorch side failed (${o.python} bench/pytorch/flow_step.py): ${p.stderr || p.stdout}`);
          const line = p.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
          if (!line) throw new OodgenError('bench flow-step: the PyTorch side printed no JSON line');
          const res = JSON.parse(line) as { layouts: Record<string, Phases> };
          for (const l of layouts) theirs.get(l)!.push(res.layouts[l]!);
        }
      }
    } finally {
      couplingConvLayout.cpu = saved;
    }
    const live1 = liveTensors();
    const agg = (rs: Phases[]) => rs.length ? { ...medians(rs), rounds: rs.map((r) => Number(r.step_ms.toFixed(1))) } : null;
    const byLayout = layouts.map((l) => {
      const a = agg(ours.get(l)!)!, b = agg(theirs.get(l)!);
      return { layout: l, oodgen: a, pytorch: b, ratio: b ? a.step_ms / b.step_ms : null };
    });
    return {
      model: o.model, config, batch: o.batch, threads: getNumThreads(), steps: o.steps, warmup: o.warmup, rounds: o.rounds,
      layouts: byLayout, native_per_step: counts,
      live_tensors: [live0, live1], torch: buildInfo().torchVersion,
      machine: `${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}`, loadavg1: loadavg()[0]!, date: new Date().toISOString().slice(0, 10),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    opt.dispose();
    model.dispose();
    x.dispose();
  }
}

export function flowStepMarkdown(r: ReturnType<typeof benchFlowStep>): string {
  const f = (p: Phases | null) =>
    p ? `${p.fwd_ms.toFixed(1)} | ${p.bwd_ms.toFixed(1)} | ${p.opt_ms.toFixed(1)} | **${p.step_ms.toFixed(1)}** | ${p.sys_ms.toFixed(0)} / ${p.preempt.toFixed(0)}` : '- | - | - | - | -';
  const fl = r.config.flow!;
  const n = r.native_per_step;
  return [
    `${r.model} z=${r.config.zDim}, ${r.config.channels}x32x32, flow ${fl.levels}x${fl.steps} width ${fl.width}${fl.lu ? ' LU' : ''}, batch ${r.batch}, ${r.threads} thread(s), ${r.machine}, load ${r.loadavg1.toFixed(2)}, ${r.date}`,
    `| engine | coupling layout | forward ms | backward ms | Adam ms | step ms | kernel ms / preemptions per step | rounds |`,
    `|---|---|---|---|---|---|---|---|`,
    ...r.layouts.flatMap((l) => [
      `| oodgen (libtorch ${r.torch}) | ${l.layout} | ${f(l.oodgen)} | ${l.oodgen.rounds.join(', ')} |`,
      `| PyTorch | ${l.layout} | ${f(l.pytorch)} | ${l.pytorch?.rounds.join(', ') ?? '-'} |`,
    ]),
    ``,
    `ratio oodgen/PyTorch: ${r.layouts.map((l) => `${l.layout} ${l.ratio === null ? '-' : l.ratio.toFixed(3)}`).join(', ')}; native calls per step: forward ${n.forward?.calls} (${n.forward?.tensors} tensors), ` +
      `backward ${n.backward?.calls} (libtorch's autograd engine), Adam ${n.optimizer?.calls} (${n.optimizer?.tensors} tensors); live tensors ${r.live_tensors.join(' -> ')}`,
  ].join('\n');
}
