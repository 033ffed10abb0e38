// The page at `/` in headless Chromium (Debian's chromium driven by puppeteer-core): upload an ID and an OoD image
// through the file picker, read the decisions, scores and reconstructions the page shows. Skipped when no
// Chromium is installed (setup.sh installs it in CI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openGate, buildServer } from '../../src/serve/index.js';
import { blobs, noise, encodeImage, tinyRun } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

test('page: pick an ID and an OoD image, see ID and OoD with score, reconstruction and histogram', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async () => {
  const puppeteer = (await import('puppeteer-core')).default;
  const run = await tinyRun();
  const gate = await openGate({ checkpoint: run.dir, detector: 'rec', calibrate: blobs(64, 7) });
  const app = await buildServer(gate);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
  });
  try {
    const idFile = join(run.root, 'blob.png');
    const oodFile = join(run.root, 'noise.png');
    writeFileSync(idFile, await encodeImage(blobs(4, 9), 0));
    writeFileSync(oodFile, await encodeImage(noise(4, 3), 0));
    const page = await browser.newPage();
    const failed: string[] = [];
    // Self-contained: every request the page makes goes to this server.
    page.on('request', (r) => {
      if (!r.url().startsWith(address) && !r.url().startsWith('data:')) failed.push(r.url());
    });
    await page.goto(address, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector('#info')?.textContent?.includes('threshold'));
    const input = await page.$('#files');
    assert.ok(input, 'file input on the page');
    await (input as unknown as { uploadFile(...p: string[]): Promise<void> }).uploadFile(idFile, oodFile);
    await page.waitForFunction(() => document.querySelectorAll('.result[data-done="1"]').length === 2, { timeout: 30_000 });
    const rows = await page.$$eval('.result', (els) => els.map((e) => ({
      name: (e as HTMLElement).dataset.name,
      decision: e.querySelector('.decision')?.textContent,
      score: Number(e.querySelector('.score')?.textContent),
      rec: (e.querySelector('img.rec') as HTMLImageElement | null)?.naturalWidth,
      marks: e.querySelectorAll('svg.hist rect').length,
    })));
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    assert.equal(byName['blob.png']?.decision, 'ID');
    assert.equal(byName['noise.png']?.decision, 'OoD');
    assert.ok(byName['noise.png']!.score > gate.threshold && byName['blob.png']!.score <= gate.threshold);
    assert.equal(byName['blob.png']?.rec, 28);
    assert.equal(byName['blob.png']?.marks, 30);
    assert.deepEqual(failed, []);
  } finally {
    await browser.close();
    await app.close();
    gate.dispose();
    run.cleanup();
  }
});
