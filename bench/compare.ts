// Side-by-side comparison of the training step: oodgen and PyTorch alternate in separate processes (so neither
// warms the other's caches or shares its thread pool), with the same threads, batch and model.
import { spawnSync } from 'node:child_process';
import { OodgenError } from '../src/errors.js';
import { packagePath } from '../src/package-root.js';
import os from 'node:os';

export interface CompareOptions { device: string; steps: number; rounds: number; batch: number; threads: number; python: string; model?: 'reference' | 'categorical' }

interface StepResult { median_ms: number; min_ms: number; max_ms: number; torch?: string; device?: string; threads?: number }

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv): StepResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new OodgenError(`benchmark command failed: ${cmd} ${args.join(' ')}\n${r.stderr || r.stdout}`);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new OodgenError(`benchmark command printed no JSON: ${cmd} ${args.join(' ')}`);
  return JSON.parse(line) as StepResult;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export function compareTrainStep(o: CompareOptions) {
  const env = { ...process.env, OMP_NUM_THREADS: String(o.threads) };
  const model = o.model ?? 'reference';
  const common = ['--device', o.device, '--steps', String(o.steps), '--batch', String(o.batch), '--model', model, '--json'];
  const ours: StepResult[] = [], theirs: StepResult[] = [];
  for (let i = 0; i < o.rounds; i++) {
    ours.push(runJson(process.execPath, [packagePath('bin', 'oodgen.js'), '--threads', String(o.threads), 'bench', 'train-step', ...common], env));
    theirs.push(runJson(o.python, [packagePath('bench', 'pytorch', 'dcgan_vae.py'), 'bench', '--threads', String(o.threads), ...common], env));
  }
  const a = median(ours.map((r) => r.median_ms));
  const b = median(theirs.map((r) => r.median_ms));
  const result = {
    oodgen_median_ms: a, pytorch_median_ms: b, ratio: a / b,
    oodgen_rounds: ours.map((r) => r.median_ms), pytorch_rounds: theirs.map((r) => r.median_ms),
    model, device: o.device, threads: o.threads, batch: o.batch, steps: o.steps, rounds: o.rounds,
    torch_oodgen: ours[0]?.torch, torch_pytorch: theirs[0]?.torch,
    machine: `${os.cpus()[0]?.model ?? 'unknown cpu'} x${os.cpus().length}`, date: new Date().toISOString().slice(0, 10),
    markdown: '',
  };
  result.markdown = [
    `| engine | median ms/step (per round) | median |`,
    `|---|---|---|`,
    `| oodgen (libtorch ${result.torch_oodgen}) | ${result.oodgen_rounds.map((x) => x.toFixed(2)).join(', ')} | ${a.toFixed(2)} |`,
    `| PyTorch ${result.torch_pytorch} | ${result.pytorch_rounds.map((x) => x.toFixed(2)).join(', ')} | ${b.toFixed(2)} |`,
    ``,
    `ratio oodgen/PyTorch = ${(a / b).toFixed(3)} (${model === 'categorical' ? 'the categorical VAE c10-vae-cat, ' : ''}${o.device}, ${o.threads} thread(s), batch ${o.batch}, ${result.machine}, ${result.date})`,
  ].join('\n');
  return result;
}
