import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { histogramChart, lineChart, renderSvg, rocChart, scatterChart, specPathFor } from '../../src/eval/charts.js';
import { rocCurve } from '../../src/eval/metrics.js';
import { mulberry32 } from '../../src/eval/prng.js';
import { OodgenError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('charts');
after(() => rmSync(dir, { recursive: true, force: true }));

const rng = mulberry32(5);
const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
const id = Array.from({ length: 3000 }, () => normal());
const ood = Array.from({ length: 700 }, () => normal() + 1.5);

type Row = Record<string, number | string>;
const readSpec = (png: string) => JSON.parse(readFileSync(specPathFor(png), 'utf8'));

async function assertPng(path: string, minWidth: number) {
  const meta = await sharp(readFileSync(path)).metadata();
  assert.equal(meta.format, 'png');
  assert.ok((meta.width ?? 0) >= minWidth, `${path} is only ${meta.width}px wide`);
  // A blank render (e.g. fonts or data failing) would be near-uniform: require real contrast.
  const stats = await sharp(readFileSync(path)).stats();
  assert.ok(stats.channels[0]!.min < 100 && stats.channels[0]!.max > 200, 'image has no contrast');
}

test('histogram: PNG at 2x density, spec beside it, shared bins, densities integrate to 1', async () => {
  const png = join(dir, 'sub', 'hist.png'); // missing directories are created
  const files = await histogramChart(png, [{ name: 'ID', values: id }, { name: 'OoD', values: [...ood, NaN] }], {
    title: 'Scores',
    xLabel: 'bits/dim',
    bins: 40,
    writeSpec: true,
  });
  assert.deepEqual(files, { png, spec: join(dir, 'sub', 'hist.vl.json') });
  await assertPng(png, 2 * 560);
  const spec = readSpec(png);
  const rows = spec.data.values as Row[];
  const byName = (n: string) => rows.filter((r) => r.series === n);
  assert.equal(byName('ID').length, 40);
  assert.deepEqual(byName('ID').map((r) => r.x0), byName('OoD').map((r) => r.x0));
  for (const n of ['ID', 'OoD']) {
    const area = byName(n).reduce((s, r) => s + (r.y as number) * ((r.x1 as number) - (r.x0 as number)), 0);
    assert.ok(Math.abs(area - 1) < 1e-9, `${n} area ${area}`);
  }
  assert.deepEqual(spec.title.subtitle, ['1 non-finite value not shown']);
  assert.equal(spec.encoding.x.title, 'bits/dim');
  // No temporary files are left behind by the atomic write.
  assert.deepEqual(readdirSync(join(dir, 'sub')).sort(), ['hist.png', 'hist.vl.json']);
});

test('histogram: counts mode, range clipping reported, constant data still plots', async () => {
  const png = join(dir, 'hist2.png');
  await histogramChart(png, [{ name: 'a', values: [0, 1, 2, 50] }], { title: 't', density: false, range: [0, 4], bins: 4, writeSpec: true });
  const spec = readSpec(png);
  assert.deepEqual((spec.data.values as Row[]).map((r) => r.y), [1, 1, 1, 1]);
  assert.equal(spec.encoding.y.title, 'count');
  assert.match(spec.title.subtitle[0], /1 value outside/);
  const files = await histogramChart(join(dir, 'hist3.png'), [{ name: 'a', values: [3, 3, 3] }], { title: 'flat' });
  assert.equal(files.spec, undefined); // only written when asked
  await assertPng(files.png, 100);
});

test('roc: long curves are downsampled but keep their endpoints; AUROC in the legend', async () => {
  const big = rocCurve(
    Array.from({ length: 50000 }, () => normal()),
    Array.from({ length: 50000 }, () => normal() + 1),
  );
  assert.ok(big.fpr.length > 50000);
  const png = join(dir, 'roc.png');
  await rocChart(png, [{ name: 'NLL', fpr: big.fpr, tpr: big.tpr, auroc: 0.76 }, { name: 'tiny', fpr: [0, 0, 1], tpr: [0, 1, 1] }], {
    title: 'ROC',
    writeSpec: true,
  });
  await assertPng(png, 800);
  const rows = readSpec(png).layer[1].data.values as Row[];
  const nll = rows.filter((r) => r.series === 'NLL (AUROC 0.760)');
  assert.ok(nll.length > 100 && nll.length <= 2100, `${nll.length} points`);
  assert.deepEqual([nll[0]!.fpr, nll[0]!.tpr, nll.at(-1)!.fpr, nll.at(-1)!.tpr], [0, 0, 1, 1]);
  // Short curves keep every corner.
  assert.equal(rows.filter((r) => r.series === 'tiny').length, 3);
});

test('scatter: at most maxPoints per series, seeded, non-finite points dropped', async () => {
  // Small sizes: librsvg needs about 1 s per 5000 translucent circles.
  const x = Array.from({ length: 3000 }, () => normal());
  const y = x.map((v) => v + normal());
  y[0] = NaN;
  const png = join(dir, 'scatter.png');
  const opts = { title: 'components', xLabel: 'recon', yLabel: 'prior', maxPoints: 1000, seed: 3, writeSpec: true };
  await scatterChart(png, [{ name: 'ID', x, y }, { name: 'OoD', x: [1, 2], y: [3, 4] }], opts);
  await assertPng(png, 900);
  const first = readSpec(png);
  const rows = first.data.values as Row[];
  assert.equal(rows.filter((r) => r.series === 'ID').length, 1000);
  assert.equal(rows.filter((r) => r.series === 'OoD').length, 2);
  assert.ok(rows.every((r) => Number.isFinite(r.x) && Number.isFinite(r.y)));
  assert.deepEqual(first.title.subtitle, ['ID: 1000 of 2999 points shown', 'ID: 1 non-finite point not shown']);
  await scatterChart(png, [{ name: 'ID', x, y }, { name: 'OoD', x: [1, 2], y: [3, 4] }], opts);
  assert.deepEqual(readSpec(png).data.values, rows);
});

test('line: log axis drops non-positive points and says so; long series thinned', async () => {
  const steps = Array.from({ length: 10000 }, (_, i) => i);
  const loss = steps.map((s) => 5 / (1 + s / 100) + 0.01);
  loss[5] = 0;
  const png = join(dir, 'line.png');
  await lineChart(png, [{ name: 'train', x: steps, y: loss }], { title: 'loss', logY: true, maxPoints: 1000, writeSpec: true });
  await assertPng(png, 900);
  const spec = readSpec(png);
  const rows = spec.data.values as Row[];
  assert.ok(rows.length <= 1001 && rows.length >= 999, `${rows.length} points`);
  assert.equal(rows.at(-1)!.x, 9999);
  assert.ok(rows.every((r) => (r.y as number) > 0));
  assert.equal(spec.encoding.y.scale.type, 'log');
  assert.match(spec.title.subtitle[0], /1 point not shown/);
});

test('svg text uses DejaVu Sans and carries titles and legend labels', async () => {
  const svg = await renderSvg({
    data: { values: [{ x: 1, y: 2, s: 'ID' }] },
    mark: 'point',
    config: { font: 'DejaVu Sans' },
    encoding: { x: { field: 'x', type: 'quantitative', title: 'XTITLE' }, y: { field: 'y', type: 'quantitative' }, color: { field: 's' } },
  });
  assert.match(svg, /font-family="DejaVu Sans"/);
  assert.match(svg, />XTITLE</);
});

test('bad series are OodgenErrors', async () => {
  const p = join(dir, 'bad.png');
  await assert.rejects(histogramChart(p, [], { title: 't' }), OodgenError);
  await assert.rejects(histogramChart(p, [{ name: 'a', values: [NaN] }], { title: 't' }), /no finite values/);
  await assert.rejects(histogramChart(p, [{ name: 'a', values: [1] }, { name: 'a', values: [2] }], { title: 't' }), /duplicate series name "a"/);
  await assert.rejects(scatterChart(p, [{ name: 'a', x: [1, 2], y: [1] }], { title: 't' }), /2 x but 1 y/);
  await assert.rejects(rocChart(p, [{ name: 'a', fpr: [0, 1], tpr: [0] }], { title: 't' }), OodgenError);
  await assert.rejects(lineChart(p, [{ name: 'a', x: [1], y: [1, 2] }], { title: 't' }), OodgenError);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('bad')), []);
});
