import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { extractCifar, fetchDataset, fetchFile } from '../../src/data/fetch.js';
import { OodgenError } from '../../src/errors.js';
import { cifarBytes, put, tarBytes, tempDir, writePng } from './helpers.js';

const BODY = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff));
const MD5 = createHash('md5').update(BODY).digest('hex');

interface Served { url: string; server: Server; ranges: (string | undefined)[]; cutNext: boolean; ignoreRange: boolean }

async function serve(t: { after: (fn: () => Promise<void> | void) => void }): Promise<Served> {
  const s: Served = { url: '', server: undefined as unknown as Server, ranges: [], cutNext: false, ignoreRange: false };
  s.server = createServer((req, res) => {
    if (req.url !== '/data/file.bin') {
      res.writeHead(404).end();
      return;
    }
    const range = req.headers.range;
    s.ranges.push(range);
    let start = 0;
    const m = range && !s.ignoreRange ? /bytes=(\d+)-/.exec(range) : null;
    if (m) start = Number(m[1]);
    if (start >= BODY.length) {
      res.writeHead(416).end();
      return;
    }
    const body = BODY.subarray(start);
    res.writeHead(m ? 206 : 200, { 'content-length': body.length, ...(m ? { 'content-range': `bytes ${start}-${BODY.length - 1}/${BODY.length}` } : {}) });
    if (s.cutNext) {
      // Send part of the body, then drop the connection: an interrupted download.
      s.cutNext = false;
      res.write(body.subarray(0, 30_000), () => res.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
  const addr = s.server.address() as { port: number };
  s.url = `http://127.0.0.1:${addr.port}`;
  t.after(() => new Promise<void>((r) => { s.server.closeAllConnections(); s.server.close(() => r()); }));
  return s;
}

test('fetch: download, verify, atomic rename; cached on the second call', async (t) => {
  const d = tempDir(t);
  const s = await serve(t);
  const dest = join(d, 'file.bin');
  assert.equal(await fetchFile(`${s.url}/data/file.bin`, dest, { md5: MD5 }), 'downloaded');
  assert.ok(readFileSync(dest).equals(BODY));
  assert.deepEqual(readdirSync(d), ['file.bin']);
  assert.equal(await fetchFile(`${s.url}/data/file.bin`, dest, { md5: MD5 }), 'cached');
  assert.equal(s.ranges.length, 1);
});

test('fetch: an interrupted download resumes with a Range request', async (t) => {
  const d = tempDir(t);
  const s = await serve(t);
  const dest = join(d, 'file.bin');
  s.cutNext = true;
  await assert.rejects(fetchFile(`${s.url}/data/file.bin`, dest, { md5: MD5 }), (e: Error) => e instanceof OodgenError && /interrupted|closed/.test(e.message) && /resume/.test(e.message));
  assert.ok(!existsSync(dest));
  const partial = readFileSync(`${dest}.part`).length;
  assert.ok(partial > 0 && partial < BODY.length);
  assert.equal(await fetchFile(`${s.url}/data/file.bin`, dest, { md5: MD5 }), 'downloaded');
  assert.equal(s.ranges.at(-1), `bytes=${partial}-`);
  assert.ok(readFileSync(dest).equals(BODY));
  assert.ok(!existsSync(`${dest}.part`));
});

test('fetch: a server that ignores Range restarts from zero; 416 on a complete part just verifies', async (t) => {
  const d = tempDir(t);
  const s = await serve(t);
  const dest = join(d, 'file.bin');
  s.ignoreRange = true;
  writeFileSync(`${dest}.part`, BODY.subarray(0, 500));
  await fetchFile(`${s.url}/data/file.bin`, dest, { md5: MD5 });
  assert.ok(readFileSync(dest).equals(BODY));
  s.ignoreRange = false;
  const dest2 = join(d, 'file2.bin');
  writeFileSync(`${dest2}.part`, BODY);
  assert.equal(await fetchFile(`${s.url}/data/file.bin`, dest2, { md5: MD5 }), 'downloaded');
  assert.ok(readFileSync(dest2).equals(BODY));
});

test('fetch: checksum mismatch and HTTP errors are clear and leave nothing behind', async (t) => {
  const d = tempDir(t);
  const s = await serve(t);
  const dest = join(d, 'file.bin');
  await assert.rejects(fetchFile(`${s.url}/data/file.bin`, dest, { md5: '0'.repeat(32) }),
    (e: Error) => e instanceof OodgenError && e.message.includes(dest) && /checksum mismatch.*expected md5 0{32}, got [0-9a-f]{32}/.test(e.message));
  assert.deepEqual(readdirSync(d), []);
  await assert.rejects(fetchFile(`${s.url}/nope`, dest), (e: Error) => e instanceof OodgenError && /HTTP 404/.test(e.message));
  await assert.rejects(fetchFile('http://127.0.0.1:9/x', dest), OodgenError);
  // fetchDataset with a mirror that serves the wrong bytes: mismatch against the canonical MNIST md5.
  await assert.rejects(fetchDataset('mnist', { root: d, baseUrl: `${s.url}/` }), (e: Error) => e instanceof OodgenError && /HTTP 404|checksum/.test(e.message));
  await assert.rejects(fetchDataset('imagenet', { root: d }), OodgenError);
});

test('fetch: CIFAR-10 tarball extraction; CelebA/LSUN link a local folder', async (t) => {
  const d = tempDir(t);
  const files = [1, 2, 3, 4, 5].map((i) => ({ name: `cifar-10-batches-bin/data_batch_${i}.bin`, data: cifarBytes(2, i).bytes }));
  files.push({ name: 'cifar-10-batches-bin/test_batch.bin', data: cifarBytes(2, 0).bytes });
  const tgz = put(join(d, 'c.tar.gz'), gzipSync(tarBytes(files)));
  const written = extractCifar(tgz, join(d, 'out'));
  assert.equal(written.length, 6);
  assert.ok(readFileSync(join(d, 'out', 'cifar-10-batches-bin', 'test_batch.bin')).equals(Buffer.from(files[5]!.data)));
  const lsun = join(d, 'my-lsun');
  await writePng(join(lsun, 'a.png'), 4, 4, 3, () => 9);
  const cache = join(d, 'cache');
  const linked = await fetchDataset('lsun', { root: cache, from: lsun });
  assert.ok(lstatSync(linked).isSymbolicLink());
  await assert.rejects(fetchDataset('celeba', { root: cache }), (e: Error) => e instanceof OodgenError && /--from DIR/.test(e.message));
  await assert.rejects(fetchDataset('celeba', { root: cache, from: join(d, 'nope') }), (e: Error) => e instanceof OodgenError && /does not exist/.test(e.message));
});
