/**
 * Just enough of ustar/GNU tar to pull regular files out of cifar-10-binary.tar.gz and cifar-100-binary.tar.gz:
 * 512-byte headers with an octal size, data padded to 512. Written here because the archives are fixed,
 * well-formed files and a tar dependency would be larger than this reader.
 */
import { OodgenError } from '../errors.js';

export interface TarEntry {
  name: string;
  data: Uint8Array;
}

function cstr(b: Uint8Array): string {
  const z = b.indexOf(0);
  return Buffer.from(z < 0 ? b : b.subarray(0, z)).toString('utf8');
}

export function readTar(buf: Uint8Array, path: string): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) return out;
    const sizeField = cstr(h.subarray(124, 136)).trim();
    if (!/^[0-7]*$/.test(sizeField)) throw new OodgenError(`tar archive ${path}: bad header at byte ${off} (size field ${JSON.stringify(sizeField)}); not a tar file`);
    const size = sizeField === '' ? 0 : parseInt(sizeField, 8);
    const type = String.fromCharCode(h[156]!);
    const prefix = cstr(h.subarray(345, 500));
    let name = cstr(h.subarray(0, 100));
    if (prefix && cstr(h.subarray(257, 262)) === 'ustar') name = `${prefix}/${name}`;
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    const start = off + 512;
    if (start + size > buf.length) throw new OodgenError(`tar archive ${path}: truncated inside ${name} (needs ${size} bytes, ${buf.length - start} left)`);
    const data = buf.subarray(start, start + size);
    if (type === 'L') longName = cstr(data);
    else if (type === '0' || type === '\0') out.push({ name, data });
    off = start + Math.ceil(size / 512) * 512;
  }
  if (off !== buf.length) throw new OodgenError(`tar archive ${path}: truncated (ends inside a header at byte ${off})`);
  return out;
}
