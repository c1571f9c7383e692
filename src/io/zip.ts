/**
 * A reader for the zip archives torch.save writes (PKWARE APPNOTE): end-of-central-directory,
 * zip64 records for archives over 4 GiB, stored and deflated entries. Entries are read on demand
 * with positioned reads, so the archive is never held in memory whole.
 */
import * as buffer from 'node:buffer';
import * as zlib from 'node:zlib';
import { UserError } from '../errors.js';
import { openRead, closeRead, readBytes, type ReadFile } from './files.js';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;
const MAX_ENTRY = buffer.constants.MAX_LENGTH;

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

export interface Zip {
  file: ReadFile;
  entries: Map<string, ZipEntry>;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(v: DataView, at: number): number {
  return Number(v.getBigUint64(at, true));
}

export function openZip(path: string): Zip {
  const file = openRead(path);
  try {
    return { file, entries: readCentralDirectory(file) };
  } catch (e) {
    closeRead(file);
    throw e;
  }
}

export function closeZip(zip: Zip): void {
  closeRead(zip.file);
}

function corrupt(f: ReadFile, what: string): never {
  throw new UserError(`${f.path}: corrupt zip archive (${what})`);
}

function readCentralDirectory(f: ReadFile): Map<string, ZipEntry> {
  // The EOCD record is the last thing in the file, followed only by a comment of up to 64 KiB.
  const tailLength = Math.min(f.size, 22 + 0xffff);
  const tailStart = f.size - tailLength;
  const tail = readBytes(f, tailStart, tailLength);
  const tv = view(tail);
  let at = -1;
  for (let i = tailLength - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD) {
      at = i;
      break;
    }
  }
  if (at < 0) corrupt(f, 'no end-of-central-directory record');
  let count = tv.getUint16(at + 10, true);
  let cdSize = tv.getUint32(at + 12, true);
  let cdOffset = tv.getUint32(at + 16, true);
  if (count === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) {
    const loc = tailStart + at - 20;
    if (loc < 0) corrupt(f, 'zip64 locator missing');
    const lv = view(readBytes(f, loc, 20));
    if (lv.getUint32(0, true) !== ZIP64_LOCATOR) corrupt(f, 'zip64 locator missing');
    const recordAt = u64(lv, 8);
    if (recordAt + 56 > f.size) corrupt(f, 'zip64 record out of range');
    const rv = view(readBytes(f, recordAt, 56));
    if (rv.getUint32(0, true) !== ZIP64_EOCD) corrupt(f, 'bad zip64 end-of-central-directory record');
    count = u64(rv, 32);
    cdSize = u64(rv, 40);
    cdOffset = u64(rv, 48);
  }
  if (cdOffset + cdSize > f.size) corrupt(f, 'central directory out of range');
  const cd = readBytes(f, cdOffset, cdSize);
  const cv = view(cd);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cd.length || cv.getUint32(p, true) !== CENTRAL) corrupt(f, `bad central directory entry ${n}`);
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    const crc = cv.getUint32(p + 16, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let size = cv.getUint32(p + 24, true);
    const nameLength = cv.getUint16(p + 28, true);
    const extraLength = cv.getUint16(p + 30, true);
    const commentLength = cv.getUint16(p + 32, true);
    let localOffset = cv.getUint32(p + 42, true);
    const end = p + 46 + nameLength + extraLength + commentLength;
    if (end > cd.length) corrupt(f, `central directory entry ${n} runs past the directory`);
    const name = Buffer.from(cd.subarray(p + 46, p + 46 + nameLength)).toString('utf8');
    if (flags & 1) throw new UserError(`${f.path}: zip entry "${name}" is encrypted`);
    // Zip64 extended information: 8-byte values for exactly the fields saturated above, in order.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (id === 1) {
        let q = e + 4;
        const next = (): number => {
          if (q + 8 > e + 4 + len) corrupt(f, `short zip64 field in entry "${name}"`);
          const v = u64(cv, q);
          q += 8;
          return v;
        };
        if (size === U32_MAX) size = next();
        if (compressedSize === U32_MAX) compressedSize = next();
        if (localOffset === U32_MAX) localOffset = next();
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, crc, compressedSize, size, localOffset });
    p = end;
  }
  return entries;
}

/** The entry's uncompressed bytes, in a fresh buffer (aligned for any typed-array view). */
export function readZipEntry(zip: Zip, entry: ZipEntry): Uint8Array {
  const f = zip.file;
  if (entry.localOffset + 30 > f.size) corrupt(f, `entry "${entry.name}" out of range`);
  const lv = view(readBytes(f, entry.localOffset, 30));
  if (lv.getUint32(0, true) !== LOCAL) corrupt(f, `bad local header for "${entry.name}"`);
  // The local extra field may differ from the central one (torch pads it to align the data).
  const dataAt = entry.localOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
  if (dataAt + entry.compressedSize > f.size) {
    throw new UserError(`${f.path}: file is truncated (zip entry "${entry.name}" runs past its end)`);
  }
  if (entry.size > MAX_ENTRY) throw new UserError(`${f.path}: zip entry "${entry.name}" claims ${entry.size} bytes, more than one buffer holds`);
  let data: Uint8Array;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) corrupt(f, `stored entry "${entry.name}" has two sizes`);
    data = readBytes(f, dataAt, entry.size);
  } else if (entry.method === 8) {
    const packed = readBytes(f, dataAt, entry.compressedSize);
    // The directory's size is a hard limit: a few MB of deflate stream can expand a thousandfold.
    let out: Buffer;
    try {
      out = zlib.inflateRawSync(packed, { maxOutputLength: Math.max(1, entry.size) });
    } catch {
      corrupt(f, `entry "${entry.name}" does not inflate to the ${entry.size} bytes its directory entry says`);
    }
    if (out.length !== entry.size) corrupt(f, `entry "${entry.name}" inflates to ${out.length} bytes, not ${entry.size}`);
    // Large outputs own their memory at offset 0; small pooled ones are copied to be aligned.
    data = out.byteOffset % 8 === 0 ? new Uint8Array(out.buffer, out.byteOffset, out.length) : Uint8Array.from(out);
  } else {
    throw new UserError(`${f.path}: zip entry "${entry.name}" uses unsupported compression method ${entry.method}`);
  }
  // zlib.crc32 arrived in Node 20.15; older Node 20 skips the check.
  if (typeof zlib.crc32 === 'function' && zlib.crc32(data) !== entry.crc) corrupt(f, `CRC mismatch in entry "${entry.name}"`);
  return data;
}
