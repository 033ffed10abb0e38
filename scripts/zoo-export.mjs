#!/usr/bin/env node
// Copies a training run into zoo/NAME: the best-validation weights as model.safetensors (no optimizer state), the
// run's config.json and log.jsonl, the exact command, and status.json (step, epoch, best validation ELBO, whether
// early stopping has ended the run). A run still training also gets last.safetensors and status.json `resume`
// (for oodgen train --restart-from). Usage: node scripts/zoo-export.mjs RUN_DIR NAME "COMMAND" [--zoo DIR]
// --zoo exports into another zoo folder than the checkout's zoo/ (e.g. throw-away stand-ins for a suite dry run).
// A run still in progress can be exported (status says so) and exported again later; the zoo keeps 80 MB at most.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';

const args = process.argv.slice(2);
const zi = args.indexOf('--zoo');
const zooArg = zi >= 0 ? args.splice(zi, 2)[1] : undefined;
const [run, name, command] = args;
if (!run || !name || !command || (zi >= 0 && !zooArg)) {
  console.error('usage: node scripts/zoo-export.mjs RUN_DIR NAME "COMMAND" [--zoo DIR]');
  process.exit(2);
}
if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) { console.error(`zoo-export: bad name '${name}' (lower-case letters, digits, . and -)`); process.exit(2); }
for (const f of ['config.json', 'state.json', 'log.jsonl']) {
  if (!existsSync(join(run, f))) { console.error(`zoo-export: ${join(run, f)} is missing: not a run folder`); process.exit(1); }
}
const weights = existsSync(join(run, 'best.safetensors')) ? 'best.safetensors' : 'model.safetensors';
const state = JSON.parse(readFileSync(join(run, 'state.json'), 'utf8'));
const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const epochs = log.filter((e) => e.event === 'epoch');
const root = new URL('..', import.meta.url).pathname;
const zoo = zooArg ? resolve(zooArg) : join(root, 'zoo');
const out = join(zoo, name);
mkdirSync(out, { recursive: true });
const put = (file, write) => { const tmp = join(out, `.${file}.tmp`); write(tmp); renameSync(tmp, join(out, file)); };
// A run still training also leaves its latest checkpoint's weights and training state (status.json `resume`), so that
// `oodgen train --restart-from zoo/NAME` continues it from there, early-stopping count included, when its run folder
// (with the optimizer state, which the zoo does not keep) is lost. A finished run needs neither.
const stepOf = (file) => {
  const b = readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  return Number(JSON.parse(b.subarray(8, 8 + n).toString('utf8')).__metadata__?.step);
};
let resume = state.done === true ? null : {
  step: state.step, epoch: state.epoch, batchInEpoch: state.batchInEpoch, bestVal: state.bestVal ?? null, bestStep: state.bestStep ?? null,
  ...(state.patienceRef !== undefined ? { patienceRef: state.patienceRef } : {}), epochsSinceBest: state.epochsSinceBest, elapsedMs: state.elapsedMs,
  // how many data-parallel ranks made its steps (a single process records no worldSize): a restart needs as many
  ranks: Number(state.rng?.worldSize ?? 1),
};
if (resume) {
  // state.json is written after model.safetensors at each checkpoint: a step that differs means a checkpoint was
  // being written while this read them.
  const at = stepOf(join(run, 'model.safetensors'));
  if (Number.isNaN(at)) {
    console.error(`zoo-export: ${join(run, 'model.safetensors')} records no step (not written by oodgen train): no restart point exported`);
    resume = null;
  } else if (at !== state.step) { console.error(`zoo-export: ${join(run, 'model.safetensors')} is at step ${at}, state.json at ${state.step}: a checkpoint was being written; export again`); process.exit(1); }
}
// An epoch that set a new best after the latest checkpoint leaves best.safetensors ahead of state.json (whose best,
// patience count and restart point are the checkpoint's): exported together they would disagree, and a restart would
// redo that epoch against the older best. Such a run is exported after its next checkpoint (zoo-train.sh's EXPORT_TO
// watcher tries again at its next poll).
if (state.done !== true && weights === 'best.safetensors') {
  const b = stepOf(join(run, 'best.safetensors'));
  if (!Number.isNaN(b) && state.bestStep != null && b !== state.bestStep) {
    console.error(`zoo-export: ${join(run, 'best.safetensors')} is the best of step ${b}, state.json's (at step ${state.step}) of step ${state.bestStep}: a new best since the last checkpoint; export after the next checkpoint`);
    process.exit(1);
  }
}
// (That check comes before anything is written: a refused export leaves the zoo folder as it was.)
// The commands of earlier segments as an earlier export of this run recorded them (before anything is overwritten):
// a restart's log event names its source command only since restart events carried one, and a hand-added note on a
// segment's line (why it was interrupted, where its folder went) is kept. A segment is matched by the restart's
// weights: the restart at step S came from the earlier export whose command.txt lists a restart at S with the same
// sha256, or from the very export being replaced (its last.safetensors or model.safetensors), whose last line is
// then that segment's command.
const previous = (() => {
  const byRestart = new Map();
  const file = join(out, 'command.txt');
  if (!existsSync(file)) return { byRestart, sources: new Set(), last: null };
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  lines.forEach((l, i) => {
    const m = /^# restarted at step ([\d,]+) \(epoch \d+\) from .* \(sha256 ([0-9a-f]{64})\)/.exec(l);
    if (m && i > 0 && !lines[i - 1].startsWith('#')) byRestart.set(`${m[1].replace(/,/g, '')}:${m[2]}`, lines[i - 1]);
  });
  const sources = new Set(['last.safetensors', 'model.safetensors'].filter((f) => existsSync(join(out, f)))
    .map((f) => createHash('sha256').update(readFileSync(join(out, f))).digest('hex')));
  const last = lines.at(-1);
  return { byRestart, sources, last: last && !last.startsWith('#') ? last : null };
})();
put('model.safetensors', (tmp) => copyFileSync(join(run, weights), tmp));
if (resume) put('last.safetensors', (tmp) => copyFileSync(join(run, 'model.safetensors'), tmp));
else if (existsSync(join(out, 'last.safetensors'))) {
  unlinkSync(join(out, 'last.safetensors'));
}
put('config.json', (tmp) => copyFileSync(join(run, 'config.json'), tmp));
put('log.jsonl', (tmp) => copyFileSync(join(run, 'log.jsonl'), tmp));
// A run restarted from surviving weights (oodgen train --restart-from) has one command per segment: each restart
// event of the log names the command before it; the command given here is the last segment's.
const restarts = log.filter((e) => e.event === 'restart');
const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
// (logs from before restart events carried sourceCommand: the last restart's source is in config.json)
if (restarts.length && !restarts.at(-1).sourceCommand && config.restartedFrom?.command) restarts.at(-1).sourceCommand = config.restartedFrom.command;
for (const e of restarts) {
  const earlier = previous.byRestart.get(`${e.step}:${e.sha256}`) ?? (previous.sources.has(e.sha256) ? previous.last : null);
  if (earlier) e.sourceCommand = earlier;
}
const fmt = (n) => n.toLocaleString('en-US');
const segments = restarts.map((e, i) => `# steps ${fmt(i ? restarts[i - 1].step + 1 : 1)}-${fmt(e.step)} (to epoch ${e.epoch}), a run folder since lost:\n${e.sourceCommand ?? '(command not recorded)'}\n` +
  `# restarted at step ${fmt(e.step)} (epoch ${e.epoch}) from ${e.weights} (sha256 ${e.sha256}): Adam moments and the noise generator reset\n`);
put('command.txt', (tmp) => writeFileSync(tmp, segments.join('') + command.trim() + '\n'));
const status = {
  weights: weights === 'best.safetensors' ? 'best validation ELBO so far' : 'last checkpoint',
  step: state.step, epoch: state.epoch, bestStep: state.bestStep ?? null,
  bestValElbo: state.bestVal ?? null, // nats per image (a density over dequantized pixels)
  lastEpoch: epochs.at(-1) ?? null,
  // Converged = early stopping ended it (patience epochs without a better validation ELBO).
  converged: state.stopReason === 'early-stopping',
  // Training has ended (early stopping or a cap); false for a run exported mid-run, which the benchmark refuses
  // without --unfinished and marks "not converged" when given it (src/train/status.ts reads it).
  done: state.done === true,
  // A run not done may be training right now: the state's stopReason is then that of its last stop (an interrupt
  // before a resume), stale, so it is not the reason here.
  stopReason: state.done === true && state.stopReason ? state.stopReason : 'still training (exported mid-run)',
  // Restarts from surviving weights after the optimizer state was lost: the run is not one uninterrupted run.
  ...(restarts.length ? { restarts: restarts.map((e) => ({ step: e.step, epoch: e.epoch, from: e.from, sha256: e.sha256 })) } : {}),
  ...(resume ? { resume } : {}),
  exported: new Date().toISOString(),
};
put('status.json', (tmp) => writeFileSync(tmp, JSON.stringify(status, null, 2) + '\n'));
const du = (d) => readdirSync(d).reduce((s, f) => { const p = join(d, f); const st = statSync(p); return s + (st.isDirectory() ? du(p) : st.size); }, 0);
const mb = du(zoo) / 1e6;
const which = weights === 'best.safetensors' && state.bestStep != null ? `the best weights (step ${state.bestStep})` : weights;
console.log(`${out}: ${which} of the run at step ${state.step} (epoch ${state.epoch}); ${zoo} holds ${mb.toFixed(1)} MB of 80`);
if (mb > 80) { console.error(`zoo-export: ${zoo} is over 80 MB`); process.exit(1); }
