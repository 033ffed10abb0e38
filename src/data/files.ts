/** File access shared by the readers: every failure becomes an OodgenError that names the file. */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { gunzipSync, constants as zc } from 'node:zlib';
import { OodgenError } from '../errors.js';

export function readBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new OodgenError(`${what} ${path}: cannot read (${describeFsError(e)})`);
  }
}

export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Decompresses when the bytes are gzip (by magic, not by file name: people gunzip files and keep names). */
export function maybeGunzip(buf: Buffer, path: string, what: string): Buffer {
  if (!isGzip(buf)) return buf;
  try {
    return gunzipSync(buf);
  } catch (e) {
    throw new OodgenError(`${what} ${path}: gzip data is corrupt or truncated (${(e as Error).message})`);
  }
}

/**
 * The first `n` bytes of the (possibly gzip-compressed) content, without reading or inflating the whole file:
 * `data list` shows counts of 60,000-image files this way in milliseconds.
 */
export function readHead(path: string, n: number, what: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new OodgenError(`${what} ${path}: cannot read (${describeFsError(e)})`);
  }
  try {
    const raw = Buffer.alloc(Math.max(n, 64 * 1024));
    const got = readSync(fd, raw, 0, raw.length, 0);
    const head = raw.subarray(0, got);
    if (!isGzip(head)) return head.subarray(0, Math.min(n, got));
    try {
      // SYNC_FLUSH lets zlib hand back what it has decoded so far instead of failing on the missing tail.
      return gunzipSync(head, { finishFlush: zc.Z_SYNC_FLUSH }).subarray(0, n);
    } catch (e) {
      throw new OodgenError(`${what} ${path}: gzip data is corrupt (${(e as Error).message})`);
    }
  } finally {
    closeSync(fd);
  }
}

/** Whether the file on disk starts with the gzip magic (readHead would already have inflated it). */
export function fileIsGzip(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      const b = Buffer.alloc(2);
      return readSync(fd, b, 0, 2, 0) === 2 && isGzip(b);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

export function fileSize(path: string): number {
  return statSync(path).size;
}

export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file or folder';
  if (err.code === 'EACCES') return 'permission denied';
  if (err.code === 'EISDIR') return 'is a folder, not a file';
  if (err.code === 'ENOTDIR') return 'not a folder';
  return err.message ?? String(e);
}
