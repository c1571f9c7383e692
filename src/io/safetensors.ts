/**
 * safetensors (https://github.com/huggingface/safetensors): u64 little-endian header length N,
 * N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}},
 * then the data buffer; offsets are relative to the buffer's start.
 */
import { UserError } from '../errors.js';
import { decodeElements, SOURCE_BYTES, isFloatSource, type SourceDType } from './dtypes.js';
import { openRead, closeRead, readAt, readBytes, writeAtomic, writeAll, type ReadFile } from './files.js';
import { numel, type CheckEntry, type HostTensor } from './host-tensor.js';
import { checkJsonDepth, describe } from './json.js';

const MAX_HEADER = 100 * 1024 * 1024;
/** No checkpoint tensor has more dimensions; a longer list is corruption. */
const MAX_RANK = 16;

interface Entry {
  name: string;
  type: SourceDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Reads every tensor; floats come back as f32, integers and bools as i32. `check` sees every
 * tensor's name and shape before any data is read.
 */
export function readSafetensors(file: string, check?: CheckEntry): Map<string, HostTensor> {
  return readSafetensorsWithMetadata(file, check).tensors;
}

export function readSafetensorsWithMetadata(file: string, check?: CheckEntry): {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
} {
  const f = openRead(file);
  try {
    const { entries, metadata, dataStart } = readHeader(f);
    for (const e of entries) check?.(e.name, e.shape, isFloatSource(e.type) ? 'f32' : 'i32');
    const tensors = new Map<string, HostTensor>();
    for (const e of entries) tensors.set(e.name, readEntry(f, e, dataStart));
    return { tensors, metadata };
  } finally {
    closeRead(f);
  }
}

/** The `__metadata__` strings alone (the header is read, the tensors are not). */
export function readSafetensorsMetadata(file: string): Record<string, string> {
  const f = openRead(file);
  try {
    return readHeader(f).metadata;
  } finally {
    closeRead(f);
  }
}

function readHeader(f: ReadFile): { entries: Entry[]; metadata: Record<string, string>; dataStart: number } {
  const file = f.path;
  if (f.size < 8) throw new UserError(`${file}: not a safetensors file (only ${f.size} bytes)`);
  const length = Buffer.from(readBytes(f, 0, 8)).readBigUInt64LE(0);
  if (length > BigInt(Math.min(MAX_HEADER, f.size - 8))) {
    throw new UserError(`${file}: safetensors header length ${length} does not fit in the file (${f.size} bytes)`);
  }
  const n = Number(length);
  const text = Buffer.from(readBytes(f, 8, n)).toString('utf8');
  // The reference reader (Rust) insists that the header is a JSON object starting at byte 8.
  if (!text.startsWith('{')) throw new UserError(`${file}: safetensors header does not start with "{" (header length ${n} is wrong?)`);
  checkJsonDepth(text, `${file}: safetensors header`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: safetensors header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new UserError(`${file}: safetensors header is not a JSON object`);
  }
  const dataStart = 8 + n;
  const dataSize = f.size - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
        throw new UserError(`${file}: __metadata__ is not an object of strings`);
      }
      metadata = v as Record<string, string>;
      continue;
    }
    entries.push(parseEntry(file, name, v, dataSize));
  }
  checkCoverage(file, entries, dataSize);
  return { entries, metadata, dataStart };
}

/**
 * Tensors may be listed in any order, but their byte ranges, sorted, must tile the data section
 * exactly: a gap, an overlap or trailing bytes mean the header and the data disagree (a wrong
 * header length shifts every tensor), as the reference reader also refuses.
 */
function checkCoverage(file: string, entries: readonly Entry[], dataSize: number): void {
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: Entry | undefined;
  for (const e of byOffset) {
    if (e.begin < at) throw new UserError(`${file}: tensor "${e.name}" overlaps tensor "${prev?.name}" (data_offsets)`);
    if (e.begin > at) {
      throw new UserError(`${file}: tensor "${e.name}" starts at data byte ${e.begin}, but the tensors before it end at ${at} (a hole in data_offsets)`);
    }
    at = e.end;
    prev = e;
  }
  if (at !== dataSize) {
    throw new UserError(`${file}: the tensors cover ${at} data bytes but the file has ${dataSize} after the header (trailing bytes or a wrong header length)`);
  }
}

function parseEntry(file: string, name: string, v: unknown, dataSize: number): Entry {
  const where = `${file}: tensor "${name}"`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string' || !Object.hasOwn(SOURCE_BYTES, dtype)) {
    throw new UserError(`${where}: unsupported dtype ${describe(dtype)}`);
  }
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new UserError(`${where}: shape ${describe(shape)} is not a list of sizes`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new UserError(`${where}: data_offsets ${describe(offsets)} is not [begin, end]`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) throw new UserError(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataSize) {
    throw new UserError(`${where}: data_offsets [${begin}, ${end}] run past the end of the file (${dataSize} data bytes)`);
  }
  const type = dtype as SourceDType;
  // numel can exceed 2^53 for absurd shapes; comparing sizes in BigInt keeps the check exact.
  const want = shape.reduce((n: bigint, d: number) => n * BigInt(d), 1n) * BigInt(SOURCE_BYTES[type]);
  if (BigInt(end - begin) !== want) {
    throw new UserError(`${where}: has ${end - begin} bytes but shape [${shape}] of ${type} needs ${want}`);
  }
  return { name, type, shape: shape as number[], begin, end };
}

function readEntry(f: ReadFile, e: Entry, dataStart: number): HostTensor {
  const count = numel(e.shape);
  const position = dataStart + e.begin;
  // f32 and i32 are read straight into their final arrays; the rest via a staging buffer.
  if (e.type === 'F32' || e.type === 'I32') {
    const data = e.type === 'F32' ? new Float32Array(count) : new Int32Array(count);
    readAt(f, new Uint8Array(data.buffer), position);
    return { shape: e.shape, dtype: e.type === 'F32' ? 'f32' : 'i32', data };
  }
  const bytes = readBytes(f, position, e.end - e.begin);
  const data = decodeElements(bytes, e.type, count, `${f.path}: tensor "${e.name}"`);
  return { shape: e.shape, dtype: isFloatSource(e.type) ? 'f32' : 'i32', data };
}

/**
 * Writes f32/i32 tensors in the given order. The header is padded with spaces to a multiple of 8
 * bytes so that every tensor's data starts 8-byte aligned for readers that map the file.
 * Written atomically (temporary file + rename).
 */
export function writeSafetensors(
  file: string,
  tensors: Map<string, HostTensor>,
  metadata?: Record<string, string>,
): void {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (t.data.length !== numel(t.shape)) {
      throw new Error(`writeSafetensors: tensor "${name}" has ${t.data.length} elements for shape [${t.shape}]`);
    }
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype === 'f32' ? 'F32' : 'I32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(head.length - 8), 0);
  head.write(json, 8, 'utf8');
  writeAtomic(file, (fd) => {
    writeAll(fd, head);
    for (const t of tensors.values()) writeAll(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  });
}
