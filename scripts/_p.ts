import { planBenchmark } from '/work/main/src/benchmark/run.ts';
import { loadSuite } from '/work/main/src/benchmark/suite.ts';
const p = planBenchmark({ suite: loadSuite(process.argv[2]), zoo: process.argv[3] } as any);
for (const u of p.units) console.log('unit', u.experiment.name, u.entry.name, u.detector, u.bn, u.limit, u.pairs.length);
for (const s of p.skipped) console.log('skip', s.what, '|', s.why.slice(0, 140));
