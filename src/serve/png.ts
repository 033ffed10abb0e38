// A fast path for the commonest gate input: a small, plain PNG already at the model's size (8-bit gray or RGB,
// optionally with alpha, not interlaced, no colour-management or orientation chunks). For a 28x28 image, libvips'
// per-call setup costs about 1 ms, twice the model's own per-image cost, so the service could not approach batch
// throughput through sharp alone. Anything else (JPEG, other sizes, palettes, 16 bits, ICC/gamma/EXIF chunks,
// a bad CRC, truncated data) returns null and goes through the data layer's sharp decoder, which then also gives
// the canonical error. tests/serve/png.test.ts checks this path byte for byte against sharp.
import { crc32, inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Chunks that may change how pixels should be interpreted (colour management, palette, transparency, orientation). */
const BAIL = new Set(['PLTE', 'tRNS', 'iCCP', 'gAMA', 'cHRM', 'sRGB', 'sBIT', 'eXIf', 'acTL']);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** Decoded pixels, interleaved HWC uint8 with alpha dropped (as sharp's removeAlpha), or null when not a plain PNG. */
export function decodePlainPng(buf: Buffer, size: number): { data: Uint8Array; width: number; height: number; channels: 1 | 3 } | null {
  if (buf.length < 8 + 25 || !buf.subarray(0, 8).equals(SIGNATURE)) return null;
  let off = 8;
  let width = 0, height = 0, colorType = -1;
  const idat: Buffer[] = [];
  let ended = false;
  while (off + 12 <= buf.length) {
    const len = buf.readUInt32BE(off);
    if (off + 12 + len > buf.length) return null;
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (crc32(buf.subarray(off + 4, off + 8 + len)) !== buf.readUInt32BE(off + 8 + len)) return null;
    if (type === 'IHDR') {
      if (len !== 13) return null;
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8]!, compression = data[10]!, filter = data[11]!, interlace = data[12]!;
      colorType = data[9]!;
      if (depth !== 8 || compression !== 0 || filter !== 0 || interlace !== 0 || !(colorType in CHANNELS)) return null;
      if (width !== size || height !== size) return null;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
      break;
    } else if (BAIL.has(type)) {
      return null;
    }
    off += 12 + len;
  }
  if (!ended || colorType < 0 || idat.length === 0) return null;
  const bpp = CHANNELS[colorType]!;
  const stride = width * bpp;
  let raw: Buffer;
  try {
    raw = inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat));
  } catch {
    return null;
  }
  if (raw.length !== height * (stride + 1)) return null;
  // Undo the per-scanline filters (PNG spec, section 9): None, Sub, Up, Average, Paeth.
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i]!;
      const a = i >= bpp ? px[row + i - bpp]! : 0;
      const b = y > 0 ? px[prev + i]! : 0;
      const c = y > 0 && i >= bpp ? px[prev + i - bpp]! : 0;
      let v: number;
      switch (f) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + b; break;
        case 3: v = x + ((a + b) >> 1); break;
        case 4: {
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default: return null;
      }
      px[row + i] = v & 0xff;
    }
  }
  const channels = colorType === 0 || colorType === 4 ? 1 : 3;
  if (channels === bpp) return { data: px, width, height, channels };
  const out = new Uint8Array(width * height * channels);
  for (let p = 0; p < width * height; p++) for (let k = 0; k < channels; k++) out[p * channels + k] = px[p * bpp + k]!;
  return { data: out, width, height, channels };
}
