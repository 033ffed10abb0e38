// The gate over HTTP (Fastify inject, and a real socket where a connection matters): answers, metrics, the page,
// graceful close, and every malformed input of issue 14 item 4: each gets a 4xx JSON error naming what was wrong,
// the next request is answered, and live tensors return to their baseline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { liveTensors } from '../../src/engine/index.js';
import { openGate, buildServer, scoringPool, type Gate } from '../../src/serve/index.js';
import { blobs, noise, encodeImage, pixelsOf, tinyRun, type TinyRun } from './helpers.js';

let run: TinyRun;
let gate: Gate;
let app: FastifyInstance;
let idPng: Buffer, oodPng: Buffer;
before(async () => {
  run = await tinyRun();
  gate = await openGate({ checkpoint: run.dir, detector: 'rec', calibrate: blobs(64, 7) });
  // Scored in a worker, so that every malformed input also goes past the worker path (worker.test.ts: inline too).
  app = await buildServer(gate, { workers: 1, maxBatch: 8, maxWaitMs: 2, bodyLimit: 1024 * 1024, maxImages: 16, image: { maxSide: 1024, maxPixels: 1024 * 1024 } });
  idPng = await encodeImage(blobs(4, 9), 0);
  oodPng = await encodeImage(noise(4, 3), 0);
});
after(async () => {
  await app.close();
  gate.dispose();
  run.cleanup();
});

const score = (payload: Buffer | string | object, contentType?: string, url = '/v1/score') =>
  app.inject({ method: 'POST', url, payload: payload as string, headers: contentType ? { 'content-type': contentType } : {} });

/** A PNG whose IHDR declares w x h (8-bit gray) with one tiny IDAT: a few dozen bytes. */
function pngDeclaring(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // gray
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

test('PNG, JPEG, base64 JSON and pixel arrays are scored; ID passes, noise is flagged; same image, same answer', async () => {
  const a = await score(idPng, 'image/png');
  assert.equal(a.statusCode, 200, a.body);
  const ra = a.json().results[0];
  assert.deepEqual(Object.keys(ra).sort(), ['ood', 'pValue', 'score', 'threshold']);
  assert.equal(ra.ood, false);
  assert.equal(ra.threshold, gate.threshold);
  assert.ok(ra.pValue > 0.05 && ra.pValue <= 1);
  const b = (await score(oodPng, 'image/png')).json().results[0];
  assert.equal(b.ood, true);
  assert.ok(b.score > ra.score);
  assert.equal(b.pValue, 1 / 65); // above every one of the 64 calibration scores
  const jpeg = await encodeImage(blobs(4, 9), 0, 'jpeg');
  const j = await score(jpeg, 'image/jpeg');
  assert.equal(j.statusCode, 200, j.body);
  assert.equal(j.json().results[0].ood, false);
  // Base64 (plain and as a data URL) and pixels of the same 8-bit image give the PNG's score. Scored alone (a batch
  // of one, as the PNG was), exactly. Two images in one request are one batch of two, and a batch's size can change
  // the float32 rounding of the convolutions (OpenBLAS's AVX-512 kernels block a GEMM by its size): equal to 1e-6
  // relative; one gray level changed in one pixel moves this score by ~50 times that (checked below).
  const alone = await score({ images: [idPng.toString('base64')] }, 'application/json');
  assert.equal(alone.statusCode, 200, alone.body);
  assert.equal(alone.json().results[0].score, ra.score);
  const js = await score({ images: [idPng.toString('base64'), `data:image/png;base64,${oodPng.toString('base64')}`] }, 'application/json');
  assert.equal(js.statusCode, 200, js.body);
  const both = js.json().results.map((r: { score: number }) => r.score) as number[];
  both.forEach((s, i) => assert.ok(Math.abs(s - [ra.score, b.score][i]!) <= 1e-6 * Math.abs(s), `${s} vs ${[ra.score, b.score][i]}`));
  const px = await score({ pixels: [pixelsOf(blobs(4, 9), 0)] }, 'application/json');
  assert.equal(px.statusCode, 200, px.body);
  assert.equal(px.json().results[0].score, ra.score);
  // ... which is the scale of a real decoding difference: one gray level in one pixel.
  const nudged = pixelsOf(blobs(4, 9), 0);
  nudged[0] = nudged[0]! < 0.5 ? nudged[0]! + 1 / 255 : nudged[0]! - 1 / 255;
  const moved = (await score({ pixels: [nudged] }, 'application/json')).json().results[0].score as number;
  assert.ok(Math.abs(moved - ra.score) > 10 * 1e-6 * Math.abs(ra.score), `one gray level moved the score by ${moved - ra.score}`);
  // A 3-channel image of a gray model is converted by the data layer (BT.601 luma), any size is resized.
  const rgb = await sharp({ create: { width: 50, height: 40, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
  assert.equal((await score(rgb, 'image/png')).statusCode, 200);
});

test('reconstruction on request, info with the calibration histogram, healthz, the page, 404 as JSON', async () => {
  const r = await score(idPng, 'image/png', '/v1/score?reconstruction=1');
  const rec = r.json().results[0].reconstruction as string;
  assert.match(rec, /^data:image\/png;base64,/);
  const meta = await sharp(Buffer.from(rec.split(',')[1]!, 'base64')).metadata();
  assert.deepEqual([meta.width, meta.height], [28, 28]);
  const info = (await app.inject('/v1/info')).json();
  assert.equal(info.detector, 'rec');
  assert.equal(info.histogram.counts.reduce((a: number, b: number) => a + b, 0), 64);
  assert.equal(info.histogram.edges.length, info.histogram.counts.length + 1);
  assert.deepEqual((await app.inject('/healthz')).json(), { status: 'ok', detector: 'rec', queue: 0 });
  const page = await app.inject('/');
  assert.equal(page.statusCode, 200);
  assert.match(page.headers['content-type'] as string, /text\/html/);
  assert.match(page.body, /<input id="files" type="file"/);
  assert.doesNotMatch(page.body, /(src|href)="(https?:)?\/\//); // self-contained: nothing loaded from elsewhere
  const nf = await app.inject('/v2/nothing');
  assert.equal(nf.statusCode, 404);
  assert.match(nf.json().error.message, /POST \/v1\/score/);
});

test('every malformed input gets a 4xx JSON error naming the problem; the server answers next; no tensors leak', async () => {
  await score(idPng, 'image/png'); // warm up any lazily created state before the baseline
  const base = liveTensors();
  const pool = scoringPool(app)!;
  const workerBase = await pool.liveTensors();
  const big = Buffer.alloc(50 * 1024 * 1024, 1);
  const cases: [string, () => Promise<{ statusCode: number; body: string }>, number, string, RegExp][] = [
    ['truncated PNG', () => score(idPng.subarray(0, Math.floor(idPng.length / 2)), 'image/png'), 400, 'undecodable_image', /image 0: cannot decode/],
    ['PNG declaring 100k x 100k', () => score(pngDeclaring(100_000, 100_000), 'image/png'), 413, 'image_too_large', /100000x100000.*limit is 1024/],
    ['PNG one pixel too wide', () => score(pngDeclaring(1025, 2), 'image/png'), 413, 'image_too_large', /1025x2/],
    ['non-image body', () => score(Buffer.from('hello, this is not a picture'), 'image/png'), 400, 'not_an_image', /not a PNG or JPEG/],
    ['JPEG sent as PNG', async () => score(await encodeImage(blobs(1), 0, 'jpeg'), 'image/png'), 400, 'content_type_mismatch', /image\/png but the body is a jpeg/],
    ['wrong content type', () => score('abc', 'text/plain'), 415, 'unsupported_content_type', /text\/plain.*image\/png, image\/jpeg/],
    ['form content type', () => score('a=1', 'application/x-www-form-urlencoded'), 415, 'unsupported_content_type', /send image\/png/],
    ['empty PNG body', () => score(Buffer.alloc(0), 'image/png'), 400, 'empty_body', /empty body/],
    ['empty JSON body', () => score('', 'application/json'), 400, 'empty_body', /empty/],
    ['no body, no type', () => app.inject({ method: 'POST', url: '/v1/score' }), 400, 'empty_body', /empty body/],
    ['50 MB body', () => score(big, 'image/png'), 413, 'body_too_large', /larger than the limit of 1048576 bytes/],
    ['malformed JSON', () => score('{"images": [', 'application/json'), 400, 'malformed_json', /malformed JSON body/],
    ['JSON array body', () => score('[1, 2]', 'application/json'), 400, 'bad_json', /must be an object/],
    ['JSON without images', () => score({ image: 'x' }, 'application/json'), 400, 'bad_json', /exactly one of "images".*"pixels".*"image"/],
    ['images not an array', () => score({ images: 'abc' }, 'application/json'), 400, 'bad_json', /"images" must be an array/],
    ['images empty', () => score({ images: [] }, 'application/json'), 400, 'bad_json', /"images" is empty/],
    ['too many images', () => score({ images: Array(17).fill(idPng.toString('base64')) }, 'application/json'), 413, 'too_many_images', /17 images; at most 16/],
    ['image not a string', () => score({ images: [idPng.toString('base64'), 42] }, 'application/json'), 400, 'bad_image', /images\[1\]: expected a base64 string, got number/],
    ['bad base64', () => score({ images: ['***not base64***'] }, 'application/json'), 400, 'bad_base64', /images\[0\]: not valid base64/],
    ['base64 of a truncated PNG', () => score({ images: [idPng.subarray(0, 60).toString('base64')] }, 'application/json'), 400, 'not_an_image', /images\[0\]: not a PNG or JPEG image \(.*corrupt header/],
    ['pixels wrong length', () => score({ pixels: [pixelsOf(blobs(1), 0).slice(1)] }, 'application/json'), 400, 'bad_pixels', /pixels\[0\]: 783 values; the model takes 1x28x28 = 784/],
    ['pixels NaN (string)', () => score({ pixels: [pixelsOf(blobs(1), 0).map((v, i) => (i === 5 ? 'NaN' : v))] }, 'application/json'), 400, 'bad_pixels', /value 5 is "NaN", not a finite number/],
    ['pixels null', () => score({ pixels: [pixelsOf(blobs(1), 0).map((v, i) => (i === 7 ? null : v))] }, 'application/json'), 400, 'bad_pixels', /value 7 is null/],
    ['pixels Infinity (1e999)', () => score(`{"pixels": [[1e999${',0'.repeat(783)}]]}`, 'application/json'), 400, 'bad_pixels', /value 0 is .*not a finite number/],
    ['pixels out of range', () => score({ pixels: [pixelsOf(blobs(1), 0).map((v, i) => (i === 3 ? 2 : v))] }, 'application/json'), 400, 'bad_pixels', /value 3 is 2, outside \[0, 1\]/],
    ['pixels not nested', () => score({ pixels: pixelsOf(blobs(1), 0) }, 'application/json'), 400, 'bad_pixels', /flat array of numbers.*one array per image/],
  ];
  for (const [what, send, status, code, re] of cases) {
    const r = await send();
    assert.equal(r.statusCode, status, `${what}: ${r.body}`);
    const body = JSON.parse(r.body);
    assert.equal(body.error.code, code, `${what}: ${r.body}`);
    assert.match(body.error.message, re, what);
    const next = await score(idPng, 'image/png');
    assert.equal(next.statusCode, 200, `after ${what}: ${next.body}`);
    assert.equal(liveTensors(), base, `tensors after ${what}`);
    assert.equal(await pool.liveTensors(), workerBase, `scoring worker's tensors after ${what}`);
  }
});

test('metrics: requests, latency histogram, batch sizes, live tensors and RSS', async () => {
  const before = (await app.inject('/metrics')).body;
  const count = (text: string) => Number(/oodgen_requests_total\{route="\/v1\/score",status="200"\} (\d+)/.exec(text)?.[1] ?? 0);
  await Promise.all(Array.from({ length: 5 }, () => score(idPng, 'image/png')));
  const m = await app.inject('/metrics');
  assert.match(m.headers['content-type'] as string, /text\/plain/);
  assert.equal(count(m.body) - count(before), 5);
  assert.match(m.body, /oodgen_request_duration_seconds_bucket\{le="0.1",route="\/v1\/score"\} \d+/);
  assert.match(m.body, /oodgen_batch_size_bucket\{le="8"\} [1-9]\d*/);
  // This thread's tensors and the scoring worker's (its model, scored in a worker_threads Worker).
  const workerLive = await scoringPool(app)!.liveTensors();
  assert.ok(workerLive > 0);
  assert.match(m.body, new RegExp(`oodgen_live_tensors ${liveTensors() + workerLive}\\b`));
  const rss = Number(/oodgen_resident_memory_bytes (\d+)/.exec(m.body)?.[1]);
  assert.ok(rss > 10e6 && rss < 64e9, `rss ${rss}`);
  assert.match(m.body, /oodgen_images_scored_total\{decision="id"\} \d+/);
});

test('a client that disconnects mid-body or before its answer does not disturb the server', async () => {
  const srv = await buildServer(gate, { maxBatch: 8, maxWaitMs: 100 });
  const address = await srv.listen({ port: 0, host: '127.0.0.1' });
  const port = Number(new URL(address).port);
  const base = liveTensors();
  try {
    const sock = (head: string, body: Buffer) => new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.write(head);
        s.write(body, () => setTimeout(() => { s.destroy(); resolve(); }, 20));
      });
      s.on('error', () => resolve());
    });
    // Half a body, then gone.
    await sock(`POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${idPng.length}\r\n\r\n`, idPng.subarray(0, 40));
    // A whole request, gone before its batch runs (maxWait 100 ms).
    await sock(`POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${idPng.length}\r\n\r\n`, idPng);
    await new Promise((r) => setTimeout(r, 200));
    const r = await fetch(`${address}/v1/score`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(idPng) });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { results: { ood: boolean }[] }).results[0]!.ood, false);
    assert.equal(liveTensors(), base);
  } finally {
    await srv.close();
  }
});

test('a request not answered within the score timeout gets 503; close() lets in-flight requests finish', async () => {
  const slow = await buildServer(gate, { maxBatch: 64, maxWaitMs: 300, scoreTimeoutMs: 50 });
  const t = await slow.inject({ method: 'POST', url: '/v1/score', payload: idPng, headers: { 'content-type': 'image/png' } });
  assert.equal(t.statusCode, 503);
  assert.equal(t.json().error.code, 'timeout');
  assert.match(t.json().error.message, /within 50 ms/);
  await slow.close();

  const srv = await buildServer(gate, { maxBatch: 64, maxWaitMs: 300 });
  const address = await srv.listen({ port: 0, host: '127.0.0.1' });
  const inflight = fetch(`${address}/v1/score`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(idPng) });
  await new Promise((r) => setTimeout(r, 80)); // received and queued, waiting for batch-mates
  const closed = srv.close();
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { results: unknown[] }).results.length, 1);
  await closed;
  await assert.rejects(fetch(`${address}/healthz`));
});
