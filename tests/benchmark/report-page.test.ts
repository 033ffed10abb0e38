// report.html in headless Chromium (Debian's chromium via puppeteer-core): the table renders one row per result,
// sorting by a column orders the rows, a row click draws its histogram and ROC curve, the page makes no network
// request and logs no console error; the claims section (C1-C8 verdicts) and the latent table render. Skipped when no Chromium is installed (setup.sh installs it in CI).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseSuite } from '../../src/benchmark/suite.js';
import { runBenchmark } from '../../src/benchmark/run.js';
import { modelGrids } from '../../src/benchmark/grids.js';
import { writeBenchmarkReport } from '../../src/benchmark/report.js';
import { histogram } from '../../src/benchmark/html.js';
import { SYNTH_PAIRS, TINY, writeRun, writeZoo } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dir = tempDir('bench-page');
after(() => rmSync(dir, { recursive: true, force: true }));

test('histogram: normalised counts, out-of-range values in the edge bins', () => {
  assert.deepEqual(histogram(Float32Array.from([-5, 0, 0.1, 0.6, 0.99, 1, 7, NaN]), 0, 1, 2), [3 / 7, 4 / 7]);
});

test('report.html: rows render, sorting works, details draw, no console errors, no network', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async () => {
  const zoo = join(dir, 'zoo');
  writeZoo(zoo);
  // tiny-ae as a zoo export whose epoch cap ended it (not early stopping): its rows and the Models table say so.
  writeFileSync(join(zoo, 'tiny-ae', 'status.json'), JSON.stringify({ step: 40, epoch: 5, bestStep: 32, lastEpoch: { epoch: 5 }, converged: false, done: true, stopReason: 'epochs' }));
  const suite = parseSuite({
    name: 'page', description: 'page test', limit: 24, fitLimit: 16, bootstrap: 10, batchSize: 8,
    experiments: [{ name: 'a', models: ['tiny-vae', 'tiny-ae'], detectors: ['elbo', 'components', 'rec', 'typicality-batch'], bn: ['eval'], pairs: SYNTH_PAIRS, recon: 4 }],
  }, 'test');
  const r = await runBenchmark({ suite, cacheDir: join(dir, 'cache'), zoo, progressBars: false });
  const out = join(dir, 'out');
  await writeBenchmarkReport(r, out, { command: 'test', grids: await modelGrids(r) });
  const expected = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).rows as { AUROC: number; score: string }[];
  // elbo 2 + components (4 rows) x 2 pairs + rec 2 + typicality-batch 2, for tiny-vae; rec 2 for tiny-ae.
  assert.equal(expected.length, 2 + 8 + 2 + 2 + 2);

  const puppeteer = (await import('puppeteer-core')).default;
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (q) => { if (!q.url().startsWith('file:') && !q.url().startsWith('data:')) requests.push(q.url()); });
    const url = pathToFileURL(join(out, 'report.html')).href;
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    const count = await page.$$eval('#results tbody tr', (t) => t.length);
    assert.equal(count, expected.length);
    const scores = await page.$$eval('#results tbody tr', (t) => t.map((x) => x.children[2]!.textContent));
    assert.deepEqual([...scores].sort(), expected.map((x) => x.score).sort());
    // Per-sample and batch detectors are marked.
    const kinds = await page.$$eval('#results tbody .kind', (t) => t.map((x) => x.textContent));
    assert.equal(kinds.filter((k) => k === 'batch').length, 2);
    assert.equal(kinds.filter((k) => k === 'per-sample').length, expected.length - 2);
    // CIs are shown.
    assert.ok(await page.$eval('#results tbody tr td.num .ci', (e) => /^ \[[-0-9.]+, [-0-9.]+\]$/.test(e.textContent ?? '')));

    const auroc = () => page.$$eval('#results tbody tr', (t) => t.map((x) => Number(x.querySelector('td[data-v]:nth-child(9)')?.getAttribute('data-v'))));
    const th = await page.$('#results th[data-key="AUROC"]');
    await th!.click();
    const desc = await auroc();
    assert.deepEqual(desc, [...expected.map((x) => x.AUROC)].sort((a, b) => b - a));
    assert.equal(await page.$eval('#results th[data-key="AUROC"]', (e) => e.getAttribute('aria-sort')), 'descending');
    await th!.click();
    assert.deepEqual(await auroc(), [...desc].reverse());
    // Text column: model names ascending.
    await (await page.$('#results th[data-key="model"]'))!.click();
    const models = await page.$$eval('#results tbody tr', (t) => t.map((x) => x.children[1]!.textContent ?? ''));
    assert.deepEqual(models, [...models].sort());
    assert.deepEqual([...new Set(models)], ['tiny-ae (not converged)', 'tiny-vae']);
    // The Models table: one row per model with its training status; the warning names the unconverged one.
    assert.deepEqual(await page.$$eval('#models tbody tr', (t) => t.map((x) => [x.children[0]!.textContent, x.getAttribute('data-converged'), x.children[1]!.textContent])), [
      ['tiny-vae', 'unknown', 'training status unknown (no status.json or state.json beside the weights)'],
      ['tiny-ae', 'false', 'ended by epochs at epoch 5, not by early stopping; best-validation weights of step 32'],
    ]);
    assert.equal(await page.$eval('#not-converged', (e) => e.textContent), 'Not converged: tiny-ae: weights not of a run that early stopping ended; the rows of such a main model say so.');

    // A row click draws its histogram (40 bins per set) and its ROC curve.
    await (await page.$('#results tbody tr:nth-child(3)'))!.click();
    assert.equal(await page.$$eval('#detail svg.hist rect.bar-id', (t) => t.length), 40);
    assert.equal(await page.$$eval('#detail svg.hist rect.bar-ood', (t) => t.length), 40);
    assert.ok(await page.$eval('#detail svg.roc polyline', (e) => (e.getAttribute('points') ?? '').split(' ').length >= 2));
    // Grids decoded from their data URIs.
    const imgs = await page.$$eval('.grids img', (t) => t.map((x) => (x as HTMLImageElement).naturalWidth));
    assert.ok(imgs.length >= 3 && imgs.every((w) => w > 0), `grids ${imgs}`);
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
  } finally {
    await browser.close();
  }
});

test('report.html: the claims C1-C8 and the latent table render, computed verdicts beside "not run" ones', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async () => {
  // A model named as the seed suite's Gaussian VAE, on a synthetic pair named like the seed's: C1, C6 (one of its
  // three models) and C7/C8 are computed; the other claims name what is missing.
  const zoo = join(dir, 'zoo-claims');
  writeRun(zoo, 'fm-vae-gauss', TINY, 1);
  const pair = { name: 'fmnist-mnist', id: 'gaussian-noise:24', ood: 'constant:24' };
  const suite = parseSuite({
    name: 'claims-page', limit: 24, fitLimit: 16, bootstrap: 10, batchSize: 8,
    experiments: [
      { name: 'd', models: ['fm-vae-gauss', 'fm-sintro'], detectors: ['elbo', 'components'], bn: ['eval'], pairs: [pair], recon: 0 },
      { name: 'lat', kind: 'latent', models: ['fm-vae-gauss'], pairs: [pair] },
    ],
  }, 'test');
  const r = await runBenchmark({ suite, cacheDir: join(dir, 'cache-claims'), zoo, progressBars: false });
  const out = join(dir, 'out-claims');
  await writeBenchmarkReport(r, out, { command: 'test' });
  const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { claims: { id: string; verdict: string; label: string }[]; latent: unknown[] };
  assert.equal(j.claims.length, 8);
  assert.equal(j.latent.length, 1);
  const computed = j.claims.filter((c) => c.verdict !== 'not run').map((c) => c.id);
  assert.deepEqual(computed, ['C1', 'C6', 'C7', 'C8']);
  assert.equal(j.claims.find((c) => c.id === 'C4')!.label, 'not run (missing: zoo/fm-sintro)');
  const md = readFileSync(join(out, 'results.md'), 'utf8');
  assert.match(md, /## Claims \(Chen 2021, ch\. 3\)/);
  assert.match(md, /\| C4 +\| .* \| not run \(missing: zoo\/fm-sintro\) +\|/);
  assert.match(md, /## lat\n\n\| model +\| BN +\| pair/);

  const puppeteer = (await import('puppeteer-core')).default;
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    const claims = await page.$$eval('#claims tbody tr', (t) => t.map((x) => ({ id: x.getAttribute('data-claim'), verdict: x.getAttribute('data-verdict'), text: x.children[2]!.textContent })));
    assert.deepEqual(claims.map((c) => c.id), ['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'C8']);
    assert.deepEqual(claims.map((c) => c.verdict), j.claims.map((c) => c.verdict));
    assert.deepEqual(claims.map((c) => c.text), j.claims.map((c) => c.label));
    // Each verdict is visible (styled, not hidden) and the latent table has one row per model and pair.
    assert.ok(await page.$eval('#claims tbody tr td.verdict', (e) => (e as HTMLElement).offsetHeight > 0));
    assert.equal(await page.$$eval('#latent tbody tr', (t) => t.length), 1);
    assert.match(await page.$eval('#latent tbody tr', (e) => e.textContent ?? ''), /fm-vae-gauss.*fmnist-mnist/);
    // The results table still renders its rows: elbo 1 + components 4.
    assert.equal(await page.$$eval('#results tbody tr', (t) => t.length), 5);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
