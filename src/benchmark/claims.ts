// The thesis's claims C1-C8 (Chen 2021, ch. 3; issue 13 "Numbers") as rules over a benchmark's results, each giving
// "reproduced", "not reproduced" or "not run (missing: ...)" with the numbers it rests on.
//
// A rule reads rows by model (zoo name), detector row, BatchNorm mode and pair - not by experiment name, so any
// suite that runs the same units gets the same verdicts (the built-in `seed` suite runs all of them). Where the
// results have a 95% bootstrap interval the rule decides on the interval, not the point: "above 0.5" means the
// interval's lower end is above 0.5. Without intervals (a suite with bootstrap 0) the point estimate decides and
// the evidence says so. A rule over several models (C6-C8) is reproduced when it holds on every model that ran,
// not reproduced when it fails on any, and lists the models that did not run.
//
//   C1  Gaussian decoder ranks ID above MNIST (Fig. 3.4): fm-vae-gauss, elbo, BN eval, fmnist-mnist:
//       AUROC of -ELBO with its interval above 0.5.
//   C2  The categorical decoder inverts it (the "higher OoD likelihood" failure): fm-vae-cat, same row:
//       AUROC interval below 0.5.
//   C3  The AE reconstructs OoD inputs well (Fig. 3.3): fm-ae, rec (reconstruction error), BN eval,
//       fmnist-mnist: the AUROC interval's lower end is at most 0.5, i.e. MNIST is not reconstructed measurably
//       worse than Fashion-MNIST.
//   C4  The GAN-VAE lowers the OoD likelihood: fm-sintro, elbo, BN eval, fmnist-mnist: AUROC interval above 0.5
//       (MNIST is less likely than ID under the Soft-IntroVAE).
//   C5  Encoder batch statistics help (Fig. 3.7): fm-vae-gauss and fm-vae-cat (the model whose likelihood
//       fails), elbo, fmnist-mnist: the BN enc interval lies wholly above the BN eval interval.
//   C6  Reconstruction dominates the likelihood gap (Fig. 3.8): for each Fashion-MNIST VAE (fm-vae-gauss,
//       fm-vae-cat, fm-vae-bern), components at BN eval on fmnist-mnist, with gaps D = mean(OoD) - mean(ID) of
//       the reconstruction term E_q[log p(x|z)] and of KL(q(z|x) || p(z)): |D_rec| > |D_kl| with the bootstrap
//       interval of |D_rec| - |D_kl| above 0 (images resampled within each set, both terms of an image together).
//   C7  Codes are linearly separable (Table 3.1): latent experiment, fm-vae-gauss and fm-vae-cat, fmnist-mnist:
//       held-out positive and negative accuracy, each with its Wilson interval's lower end >= 0.9 (Table 3.1's
//       weaker figure is 92.0%).
//   C8  Moving along w makes OoD reconstructions look ID (Fig. 3.10): same units: of the held-out OoD codes on
//       the OoD side, moved to the median ID depth, decoded and re-encoded (benchmark/latent.ts), more than half
//       land on the ID side, and the moved interval lies wholly above the unmoved round trip's.
import type { BenchRow, BenchmarkResult, Skip } from './run.js';
import type { LatentUnitResult, Proportion } from './latent.js';
import { b64ToF32 } from './cache.js';

export type Verdict = 'reproduced' | 'not reproduced' | 'not run';

export interface ClaimResult {
  id: string;
  /** The claim in words. */
  claim: string;
  /** Where the thesis makes it. */
  source: string;
  /** The rule, in words: which results it reads and the threshold that decides. */
  rule: string;
  verdict: Verdict;
  /** "reproduced", "not reproduced" or "not run (missing: ...)". */
  label: string;
  /** The numbers the verdict rests on. */
  evidence: string;
  /** What did not run (zoo models, rows), for "not run" and partly-run multi-model rules. */
  missing: string[];
}

export type ClaimInput = Pick<BenchmarkResult, 'units' | 'latent' | 'skipped'> & { suite?: { seed: number } };

type Check = { ok: boolean; evidence: string } | { missing: string };

interface Rule {
  id: string;
  claim: string;
  source: string;
  rule: string;
  models: string[];
  check(r: ClaimInput, model: string): Check;
}

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : String(v));
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const ciText = (row: BenchRow) => (row.ci ? `${f3(row.AUROC)} [${f3(row.ci.AUROC[0])}, ${f3(row.ci.AUROC[1])}]` : `${f3(row.AUROC)} (no interval: point decides)`);
const propText = (p: Proportion) => `${pct(p.p)} [${pct(p.ci[0])}, ${pct(p.ci[1])}] of ${p.n}`;
const lo = (row: BenchRow) => (row.ci ? row.ci.AUROC[0] : row.AUROC);
const hi = (row: BenchRow) => (row.ci ? row.ci.AUROC[1] : row.AUROC);

/** Why a model's row is absent: the zoo lacks the model, the suite skipped the unit (with its reason), or no suite ran it. */
function missingWhat(skipped: Skip[], model: string, what: string, detector: string): string {
  if (skipped.some((s) => s.what.endsWith(`: model ${model}`))) return `zoo/${model}`;
  // Detector units are skipped as "EXP: MODEL / DETECTOR[ / ...]"; latent units as "EXP: MODEL" or "EXP: MODEL / latent / ...".
  const s = skipped.find((x) => x.what.includes(`: ${model} / ${detector} `) || x.what.endsWith(`: ${model} / ${detector}`) ||
    (detector === 'latent' && x.what.endsWith(`: ${model}`)));
  if (s) return `${what} (${s.why})`;
  return `${what} (not in this suite)`;
}

function row(r: ClaimInput, model: string, score: string, bn: string, pair: string): BenchRow | undefined {
  for (const u of r.units) for (const x of u.rows) if (x.model === model && x.score === score && x.bn === bn && x.pair === pair) return x;
  return undefined;
}

function aurocRule(model: string, detector: string, score: string, pair: string, test: (row: BenchRow) => boolean, say: string) {
  return (r: ClaimInput): Check => {
    const x = row(r, model, score, 'eval', pair);
    if (!x) return { missing: missingWhat(r.skipped, model, `${model} / ${score} / bn=eval / ${pair}`, detector) };
    return { ok: test(x), evidence: `${model}: ${say} AUROC ${ciText(x)} (${x.nId} / ${x.nOod} images)` };
  };
}

function latentPair(r: ClaimInput, model: string, pair: string): LatentUnitResult['pairs'][number] | undefined {
  for (const u of r.latent) if (u.model === model) for (const p of u.pairs) if (p.pair === pair) return p;
  return undefined;
}

/** Seeded uniform integers in [0, n) (mulberry32), for the bootstrap. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * C6's statistic: |D_rec| - |D_kl| with D = mean(OoD) - mean(ID) of the reconstruction term and the KL, and its 95%
 * percentile-bootstrap interval (B resamples of each set, an image's two terms kept together).
 */
export function gapDominance(rec: { id: Float32Array; ood: Float32Array }, kl: { id: Float32Array; ood: Float32Array }, B = 1000, seed = 0):
  { dRec: number; dKl: number; stat: number; ci: [number, number] } {
  const mean = (a: Float32Array, idx?: Int32Array) => {
    let s = 0;
    if (idx) for (const i of idx) s += a[i]!; else for (const v of a) s += v;
    return s / (idx ? idx.length : a.length);
  };
  const stat = (iId?: Int32Array, iOod?: Int32Array) => {
    const dRec = mean(rec.ood, iOod) - mean(rec.id, iId), dKl = mean(kl.ood, iOod) - mean(kl.id, iId);
    return { dRec, dKl, stat: Math.abs(dRec) - Math.abs(dKl) };
  };
  const base = stat();
  const rand = mulberry32(seed + 0x5eed);
  const draw = (n: number) => Int32Array.from({ length: n }, () => Math.floor(rand() * n));
  const reps = Array.from({ length: B }, () => stat(draw(rec.id.length), draw(rec.ood.length)).stat).sort((a, b) => a - b);
  const q = (p: number) => reps[Math.min(B - 1, Math.max(0, Math.floor(p * B)))]!;
  return { ...base, ci: B > 0 ? [q(0.025), q(0.975)] : [base.stat, base.stat] };
}

function componentSeries(r: ClaimInput, model: string, pair: string): { rec: { id: Float32Array; ood: Float32Array }; kl: { id: Float32Array; ood: Float32Array }; n: [number, number] } | undefined {
  for (const u of r.units) {
    if (u.model !== model || u.detector !== 'components' || u.bn !== 'eval') continue;
    const rec = u.series.find((s) => s.row === '-reconstruction'), kl = u.series.find((s) => s.row === 'kl');
    if (!rec?.ood[pair] || !kl?.ood[pair]) continue;
    // The '-reconstruction' row stores the negated term; negate back to E_q[log p(x|z)].
    const neg = (a: Float32Array) => a.map((v) => -v);
    const out = { rec: { id: neg(b64ToF32(rec.id)), ood: neg(b64ToF32(rec.ood[pair]!)) }, kl: { id: b64ToF32(kl.id), ood: b64ToF32(kl.ood[pair]!) } };
    return { ...out, n: [out.rec.id.length, out.rec.ood.length] };
  }
  return undefined;
}

const PAIR = 'fmnist-mnist';

export const CLAIM_RULES: Rule[] = [
  {
    id: 'C1', claim: 'A Gaussian decoder ranks Fashion-MNIST (ID) above MNIST', source: 'Chen 2021 Fig. 3.4',
    rule: 'fm-vae-gauss, -ELBO as the OoD score, BN eval, Fashion-MNIST vs MNIST: AUROC interval above 0.5',
    models: ['fm-vae-gauss'],
    check: (r, m) => aurocRule(m, 'elbo', 'elbo', PAIR, (x) => lo(x) > 0.5, '-ELBO')(r),
  },
  {
    id: 'C2', claim: 'A categorical decoder inverts it (MNIST more likely than ID)', source: 'Chen 2021 Sec. 3.2 (Nalisnick et al. 2019)',
    rule: 'fm-vae-cat, -ELBO, BN eval, Fashion-MNIST vs MNIST: AUROC interval below 0.5',
    models: ['fm-vae-cat'],
    check: (r, m) => aurocRule(m, 'elbo', 'elbo', PAIR, (x) => hi(x) < 0.5, '-ELBO')(r),
  },
  {
    id: 'C3', claim: 'The autoencoder reconstructs OoD inputs well', source: 'Chen 2021 Fig. 3.3',
    rule: 'fm-ae, reconstruction error as the OoD score, BN eval, Fashion-MNIST vs MNIST: the AUROC interval\'s lower end is at most 0.5 (MNIST not reconstructed measurably worse than ID)',
    models: ['fm-ae'],
    check: (r, m) => aurocRule(m, 'rec', 'rec', PAIR, (x) => lo(x) <= 0.5, 'reconstruction error')(r),
  },
  {
    id: 'C4', claim: 'The GAN-VAE (Soft-IntroVAE) lowers the OoD likelihood', source: 'Chen 2021 Sec. 3.3 (Daniel & Tamar 2021)',
    rule: 'fm-sintro, -ELBO, BN eval, Fashion-MNIST vs MNIST: AUROC interval above 0.5',
    models: ['fm-sintro'],
    check: (r, m) => aurocRule(m, 'elbo', 'elbo', PAIR, (x) => lo(x) > 0.5, '-ELBO')(r),
  },
  {
    id: 'C5', claim: 'BatchNorm batch statistics in the encoder help', source: 'Chen 2021 Sec. 3.3.5, Fig. 3.7',
    rule: 'fm-vae-gauss and fm-vae-cat, -ELBO, Fashion-MNIST vs MNIST: the BN enc AUROC interval lies wholly above the BN eval interval',
    models: ['fm-vae-gauss', 'fm-vae-cat'],
    check: (r, m) => {
      const ev = row(r, m, 'elbo', 'eval', PAIR), en = row(r, m, 'elbo', 'enc', PAIR);
      if (!ev || !en) return { missing: missingWhat(r.skipped, m, `${m} / elbo / bn=${ev ? 'enc' : 'eval'} / ${PAIR}`, 'elbo') };
      return { ok: lo(en) > hi(ev), evidence: `${m}: AUROC BN enc ${ciText(en)} vs BN eval ${ciText(ev)}` };
    },
  },
  {
    id: 'C6', claim: 'The reconstruction term dominates the ID/OoD likelihood gap', source: 'Chen 2021 eq. 3.1-3.4, Fig. 3.8',
    rule: 'each Fashion-MNIST VAE (fm-vae-gauss, fm-vae-cat, fm-vae-bern), ELBO components, BN eval, Fashion-MNIST vs MNIST: with D = mean(MNIST) - mean(ID), |D_rec| > |D_kl|, the bootstrap interval of |D_rec| - |D_kl| above 0',
    models: ['fm-vae-gauss', 'fm-vae-cat', 'fm-vae-bern'],
    check: (r, m) => {
      const s = componentSeries(r, m, PAIR);
      if (!s) return { missing: missingWhat(r.skipped, m, `${m} / components / bn=eval / ${PAIR}`, 'components') };
      const g = gapDominance(s.rec, s.kl, 1000, r.suite?.seed ?? 0);
      return { ok: g.ci[0] > 0, evidence: `${m}: D_rec ${g.dRec.toFixed(1)} nats, D_kl ${g.dKl.toFixed(1)} nats, |D_rec| - |D_kl| ${g.stat.toFixed(1)} [${g.ci[0].toFixed(1)}, ${g.ci[1].toFixed(1)}] (${s.n[0]} / ${s.n[1]} images)` };
    },
  },
  {
    id: 'C7', claim: 'ID and OoD latent codes are linearly separable', source: 'Chen 2021 Sec. 3.4, Table 3.1',
    rule: 'latent experiment, fm-vae-gauss and fm-vae-cat, Fashion-MNIST vs MNIST: held-out positive and negative accuracy of the linear SVM on posterior means, each with its 95% Wilson interval\'s lower end >= 90%',
    models: ['fm-vae-gauss', 'fm-vae-cat'],
    check: (r, m) => {
      const p = latentPair(r, m, PAIR);
      if (!p) return { missing: missingWhat(r.skipped, m, `${m} / latent / ${PAIR}`, 'latent') };
      return {
        ok: p.positive.ci[0] >= 0.9 && p.negative.ci[0] >= 0.9,
        evidence: `${m}: positive ${propText(p.positive)}, negative ${propText(p.negative)}; pixel-projection control ${pct(p.pixels.positive.p)} / ${pct(p.pixels.negative.p)}`,
      };
    },
  },
  {
    id: 'C8', claim: 'Moving an OoD code along the normal w makes its reconstruction look ID', source: 'Chen 2021 Sec. 3.4, Fig. 3.10',
    rule: 'same latent units: held-out OoD codes on the OoD side moved along w to the median ID depth, decoded and re-encoded: more than half land on the ID side of the same SVM, and the moved interval lies wholly above the unmoved round trip\'s',
    models: ['fm-vae-gauss', 'fm-vae-cat'],
    check: (r, m) => {
      const p = latentPair(r, m, PAIR);
      if (!p) return { missing: missingWhat(r.skipped, m, `${m} / latent / ${PAIR}`, 'latent') };
      const { moved, unmoved } = p.move;
      if (moved.n === 0) return { ok: false, evidence: `${m}: no held-out OoD code on the OoD side to move` };
      const px = p.move.pixels ? `; pixel-space judge (not the rule): ${pct(p.move.pixels.moved.p)} moved vs ${pct(p.move.pixels.unmoved.p)} unmoved` : '';
      return { ok: moved.p > 0.5 && moved.ci[0] > unmoved.ci[1], evidence: `${m}: on the ID side after the move ${propText(moved)}, without it ${propText(unmoved)}${px}` };
    },
  },
];

/** Evaluates every claim rule over a benchmark's results. */
export function evaluateClaims(r: ClaimInput, rules: Rule[] = CLAIM_RULES): ClaimResult[] {
  return rules.map((rule) => {
    const ran: { ok: boolean; evidence: string }[] = [];
    const missing: string[] = [];
    for (const m of rule.models) {
      const c = rule.check(r, m);
      if ('missing' in c) missing.push(c.missing); else ran.push(c);
    }
    const verdict: Verdict = ran.length === 0 ? 'not run' : ran.every((c) => c.ok) ? 'reproduced' : 'not reproduced';
    const label = verdict === 'not run' ? `not run (missing: ${missing.join('; ')})` : verdict;
    const evidence = [...ran.map((c) => c.evidence), ...(ran.length && missing.length ? [`not run: ${missing.join('; ')}`] : [])].join('; ');
    return { id: rule.id, claim: rule.claim, source: rule.source, rule: rule.rule, verdict, label, evidence, missing };
  });
}

/**
 * The claims C1-C8 (claims.ts), or none for a suite that ran nothing any claim reads (a custom suite on other
 * models), so its report is not a list of eight "not run" lines. The seed suite always shows them.
 */
export function claimsOf(r: Pick<BenchmarkResult, 'units' | 'latent' | 'skipped' | 'suite'>): ClaimResult[] {
  const c = evaluateClaims({ ...r, suite: r.suite });
  return r.suite.name === 'seed' || c.some((x) => x.verdict !== 'not run') ? c : [];
}
