import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { parseJson } from './json.js';

/** A file opened for positioned reads; `size` is taken once at open. */
export interface ReadFile {
  path: string;
  fd: number;
  size: number;
}

export function openRead(file: string): ReadFile {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${file}: file not found`);
    if (code === 'EISDIR') throw new UserError(`${file}: is a folder, expected a file`);
    throw new UserError(`${file}: cannot open (${code ?? String(e)})`);
  }
  const stat = fs.fstatSync(fd);
  if (stat.isDirectory()) {
    fs.closeSync(fd);
    throw new UserError(`${file}: is a folder, expected a file`);
  }
  return { path: file, fd, size: stat.size };
}

export function closeRead(f: ReadFile): void {
  fs.closeSync(f.fd);
}

// fs.readSync moves at most 2 GiB per call.
const MAX_READ = 1 << 30;

/** Fills `dest` from `position`; a short read (truncated file) is a UserError. */
export function readAt(f: ReadFile, dest: Uint8Array, position: number): void {
  let done = 0;
  while (done < dest.length) {
    const n = fs.readSync(f.fd, dest, done, Math.min(MAX_READ, dest.length - done), position + done);
    if (n === 0) throw new UserError(`${f.path}: file is truncated (read past its end at byte ${position + done})`);
    done += n;
  }
}

export function readBytes(f: ReadFile, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  readAt(f, out, position);
  return out;
}

/**
 * Writes a file so that a crash never leaves it half-written: the bytes go to a temporary file in
 * the same folder (same filesystem, so the rename is atomic), are flushed, then renamed over `file`.
 */
export function writeAtomic(file: string, write: (fd: number) => void): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    write(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    throw new UserError(`${file}: cannot write (${code})`);
  }
}

/** Writes all of `bytes` at the fd's current position. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, Math.min(MAX_READ, bytes.length - done));
  }
}

export function writeTextAtomic(file: string, text: string): void {
  writeAtomic(file, (fd) => writeAll(fd, Buffer.from(text, 'utf8')));
}

/** A JSON file, parsed with the depth limit and errors of `parseJson`. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${file}: file not found` : `${file}: cannot read (${code ?? String(e)})`);
  }
  return parseJson(text, file);
}

const TEXT_CHUNK = 1 << 20;

/**
 * A UTF-8 text file read 1 MiB at a time, so that memory stays flat however large the file: each
 * chunk's decoded text (a character cut by the chunk's end comes whole with the next) and its
 * bytes, valid until the next chunk; the last has no bytes. Bytes that are not UTF-8 are a
 * UserError `${file}: ${notUtf8()}`.
 */
export function* utf8Chunks(file: string, notUtf8: () => string): Generator<{ text: string; bytes: Uint8Array }> {
  let fd: number;
  try {
    if (!fs.statSync(file).isFile()) throw new UserError(`${file}: not a regular file`);
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const buf = new Uint8Array(TEXT_CHUNK);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, TEXT_CHUNK, null);
      let text: string;
      try {
        text = decoder.decode(buf.subarray(0, n), { stream: n > 0 });
      } catch {
        throw new UserError(`${file}: ${notUtf8()}`);
      }
      yield { text, bytes: buf.subarray(0, n) };
      if (n === 0) return;
    }
  } finally {
    fs.closeSync(fd);
  }
}
