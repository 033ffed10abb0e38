#!/usr/bin/env node
// One JSON line about a run folder trained by scripts/gpu/zoo.sh: steps, epochs, why it stopped, the best validation
// ELBO, seconds per epoch. Plain Node (no dependencies: the GPU machine has no node_modules).
//   node scripts/gpu/zoo-summary.mjs RUN NAME EXIT_CODE TAR_BYTES PARTS [TAR_NAME]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [run, name, rc, tarBytes, parts, tarName = name] = process.argv.slice(2);
const read = (f) => JSON.parse(readFileSync(join(run, f), 'utf8'));
if (!existsSync(join(run, 'state.json'))) {
  const tail = existsSync(join(run, 'gpu-train.out')) ? readFileSync(join(run, 'gpu-train.out'), 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
  console.log(JSON.stringify({ model: name, exit: Number(rc), error: `no state.json: the run never reached a checkpoint (${tail.slice(0, 400)})` }));
  process.exit(0);
}
const state = read('state.json');
const config = read('config.json');
const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const epochs = log.filter((e) => e.event === 'epoch');
// Seconds per epoch (training + validation): the median gap between epoch lines, the first measured from 0.
const gaps = epochs.map((e, i) => e.elapsedS - (i ? epochs[i - 1].elapsedS : 0)).sort((a, b) => a - b);
const median = gaps.length ? gaps[Math.floor((gaps.length - 1) / 2)] : null;
console.log(JSON.stringify({
  model: name,
  exit: Number(rc),
  step: state.step,
  epoch: state.epoch,
  stopReason: state.stopReason,
  converged: state.stopReason === 'early-stopping',
  bestValElbo: state.bestVal,
  bestStep: state.bestStep,
  lastValElbo: epochs.at(-1)?.valElbo ?? null,
  sPerEpoch: median === null ? null : +median.toFixed(2),
  trainS: +(state.elapsedMs / 1000).toFixed(1),
  msPerStep: state.step ? +(state.elapsedMs / state.step).toFixed(1) : null,
  done: state.done,
  device: config.device,
  files: ['config.json', 'state.json', 'log.jsonl', 'model.safetensors', 'best.safetensors', 'optimizer.safetensors'].filter((f) => existsSync(join(run, f))),
  tar: tarName,
  tarBytes: Number(tarBytes),
  parts: Number(parts),
}));
