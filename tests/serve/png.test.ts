// The plain-PNG fast path (src/serve/png.ts) against the data layer's sharp decoder (the oracle): byte-identical
// pixels for gray, RGB and their alpha variants, for every scanline filter, and null (fall back to sharp) for
// everything it does not handle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodePlainPng } from '../../src/serve/png.js';
import { decodeImage } from '../../src/data/folder.js';

function lcg(seed: number): () => number {
  let q = seed >>> 0;
  return () => ((q = (Math.imul(q, 1664525) + 1013904223) >>> 0) / 4294967296);
}

/** Smooth + noisy pixels, HWC uint8, so every PNG filter has something to predict. */
function pixels(w: number, h: number, ch: number, seed: number): Buffer {
  const r = lcg(seed);
  const out = Buffer.alloc(w * h * ch);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < ch; k++) {
    out[(y * w + x) * ch + k] = Math.max(0, Math.min(255, Math.round(8 * x + 5 * y + 40 * k + 30 * (r() - 0.5))));
  }
  return out;
}

const chunk = (type: string, data: Buffer) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
};

/** A PNG written here with scanline filter f on every row (the forward filters of the PNG spec). */
function pngWithFilter(px: Buffer, w: number, h: number, colorType: number, bpp: number, filterOf: (y: number) => number): Buffer {
  const stride = w * bpp;
  const raw = Buffer.alloc(h * (stride + 1));
  for (let y = 0; y < h; y++) {
    const f = filterOf(y);
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const x = px[y * stride + i]!;
      const a = i >= bpp ? px[y * stride + i - bpp]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= bpp ? px[(y - 1) * stride + i - bpp]! : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f]!;
      raw[y * (stride + 1) + 1 + i] = (x - pred) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  const z = deflateSync(raw);
  // Two IDAT chunks, to check they are joined.
  const cut = Math.floor(z.length / 2);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', z.subarray(0, cut)), chunk('IDAT', z.subarray(cut)), chunk('IEND', Buffer.alloc(0))]);
}

async function sameAsSharp(png: Buffer, what: string): Promise<void> {
  const fast = decodePlainPng(png, 28);
  assert.ok(fast, `${what}: fast path taken`);
  const ref = await decodeImage(png, 28, what);
  assert.equal(fast.channels, ref.channels, what);
  assert.deepEqual([fast.width, fast.height], [ref.width, ref.height], what);
  assert.ok(Buffer.from(fast.data).equals(ref.data), `${what}: pixels differ from sharp`);
}

test('plain PNGs decode byte-identically to sharp: gray, RGB, with alpha, every filter, sharp-written files', async () => {
  const types: [number, number][] = [[0, 1], [2, 3], [4, 2], [6, 4]];
  for (const [ct, bpp] of types) {
    const px = pixels(28, 28, bpp, ct + 1);
    for (let f = 0; f <= 4; f++) await sameAsSharp(pngWithFilter(px, 28, 28, ct, bpp, () => f), `color type ${ct}, filter ${f}`);
    await sameAsSharp(pngWithFilter(px, 28, 28, ct, bpp, (y) => y % 5), `color type ${ct}, mixed filters`);
  }
  for (const ch of [1, 3, 4] as const) {
    for (const o of [{ compressionLevel: 0 }, { compressionLevel: 9, adaptiveFiltering: true }, { adaptiveFiltering: false }]) {
      const png = await sharp(pixels(28, 28, ch, 9 + ch), { raw: { width: 28, height: 28, channels: ch } }).png(o).toBuffer();
      await sameAsSharp(png, `sharp-written ${ch} channels ${JSON.stringify(o)}`);
    }
  }
});

test('anything but a plain PNG at the model size falls back to sharp (null)', async () => {
  const px = pixels(28, 28, 3, 4);
  const good = pngWithFilter(px, 28, 28, 2, 3, () => 4);
  assert.ok(decodePlainPng(good, 28));
  assert.equal(decodePlainPng(good, 32), null, 'other size');
  const raw = (o: object, w = 28, ch: 1 | 3 = 3) => sharp(pixels(w, w, ch, 5), { raw: { width: w, height: w, channels: ch } }).png(o).toBuffer();
  assert.equal(decodePlainPng(await raw({ progressive: true }), 28), null, 'interlaced');
  assert.equal(decodePlainPng(await raw({ palette: true }), 28), null, 'palette');
  assert.equal(decodePlainPng(await sharp(pixels(28, 28, 3, 5), { raw: { width: 28, height: 28, channels: 3 } }).toColourspace('rgb16').png().toBuffer(), 28), null, '16-bit');
  const badCrc = Buffer.from(good);
  badCrc[40]! ^= 0xff;
  assert.equal(decodePlainPng(badCrc, 28), null, 'bad CRC');
  assert.equal(decodePlainPng(good.subarray(0, good.length - 20), 28), null, 'truncated');
  assert.equal(decodePlainPng(Buffer.from('not a png at all, not at all, not at all'), 28), null, 'not a PNG');
  assert.equal(decodePlainPng(await sharp(pixels(28, 28, 3, 5), { raw: { width: 28, height: 28, channels: 3 } }).jpeg().toBuffer(), 28), null, 'JPEG');
});
