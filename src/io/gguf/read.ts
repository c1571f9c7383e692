/**
 * Reads a GGUF file (format.ts): metadata and tensor infos, then tensors on demand, decoded to
 * f32. Every count and length is checked against what is left of the file before anything is
 * allocated for it, so a corrupt header fails with one line instead of an out-of-memory.
 */
import { UserError } from '../../errors.js';
import { closeRead, openRead, readAt, readBytes, type ReadFile } from '../files.js';
import { numel, type HostTensor } from '../host-tensor.js';
import {
  alignUp, DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_DIMS, MAX_NAME, OTHER_GGML_TYPES, TENSOR_TYPES, tensorBytes,
  tensorTypeById, VALUE_BYTES, VALUE_TYPES, type GgufValue, type TensorType, type ValueType,
} from './format.js';
import { decodeTensor } from './quant.js';

export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne[0] fastest */
  ne: number[];
  type: TensorType;
  /** from the start of the data section */
  offset: number;
  bytes: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  dataStart: number;
}

/** Sequential reads through a window of the file that grows on demand. */
class Cursor {
  pos = 0;
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;

  constructor(readonly f: ReadFile) {}

  get left(): number {
    return this.f.size - this.pos;
  }

  fail(message: string): never {
    throw new UserError(`${this.f.path}: ${message}`);
  }

  /** `n` bytes at the cursor, which moves past them; `what` names them when the file ends first. */
  take(n: number, what: string): DataView {
    if (n > this.left) this.fail(`file is truncated (${what} at byte ${this.pos} needs ${n} bytes, ${this.left} left)`);
    if (this.pos + n > this.windowStart + this.window.length) {
      const length = Math.min(this.left, Math.max(n, 1 << 20, 2 * this.window.length));
      this.window = readBytes(this.f, this.pos, length);
      this.windowStart = this.pos;
    }
    const view = new DataView(this.window.buffer, this.pos - this.windowStart, n);
    this.pos += n;
    return view;
  }

  u32(what: string): number {
    return this.take(4, what).getUint32(0, true);
  }

  /** a u64 that must be at most `max` (a size or count judged against the file) */
  u64(what: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.take(8, what).getBigUint64(0, true);
    if (v > BigInt(max)) this.fail(`${what} ${v} is absurd (the file has ${this.f.size} bytes)`);
    return Number(v);
  }

  string(what: string): string {
    const n = this.u64(`length of ${what}`, this.left);
    const v = this.take(n, what);
    return Buffer.from(v.buffer, v.byteOffset, n).toString('utf8');
  }
}

export function readGgufHeader(f: ReadFile): GgufHeader {
  const c = new Cursor(f);
  if (f.size < 24) c.fail(`not a GGUF file (only ${f.size} bytes)`);
  const magic = Buffer.from(readBytes(f, 0, 4)).toString('latin1');
  if (magic !== GGUF_MAGIC) c.fail(`not a GGUF file (magic ${JSON.stringify(magic)}, expected "GGUF")`);
  c.pos = 4;
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    const swapped = ((version & 0xff) << 24) | ((version >>> 8 & 0xff) << 16) | ((version >>> 16 & 0xff) << 8) | (version >>> 24);
    if (swapped === 2 || swapped === 3) c.fail('is a big-endian GGUF file; only little-endian files are supported');
    c.fail(`GGUF version ${version} is not supported (2 and 3 are)`);
  }
  // a tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes, a key-value pair 8 + 4 + 1
  const nTensors = c.u64('tensor count', Math.floor(f.size / 32));
  const nKv = c.u64('metadata count', Math.floor(f.size / 13));
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`metadata key ${i}`);
    if (metadata.has(key)) c.fail(`metadata key "${key}" appears twice`);
    const type = valueType(c, c.u32(`type of "${key}"`), key);
    metadata.set(key, readValue(c, type, key));
  }
  const alignment = alignmentOf(c, metadata);
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const info = readTensorInfo(c, i);
    if (names.has(info.name)) c.fail(`tensor "${info.name}" appears twice`);
    names.add(info.name);
    tensors.push(info);
  }
  const dataStart = alignUp(c.pos, alignment);
  const dataSize = f.size - dataStart;
  for (const t of tensors) {
    if (t.offset % alignment !== 0) c.fail(`tensor "${t.name}" has offset ${t.offset}, not a multiple of the alignment ${alignment}`);
    if (t.offset + t.bytes > dataSize) {
      c.fail(`tensor "${t.name}" (offset ${t.offset}, ${t.bytes} bytes) runs past the end of the file (${Math.max(0, dataSize)} data bytes)`);
    }
  }
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    if (byOffset[i].offset < byOffset[i - 1].offset + byOffset[i - 1].bytes) {
      c.fail(`tensor "${byOffset[i].name}" overlaps tensor "${byOffset[i - 1].name}"`);
    }
  }
  return { version, metadata, tensors, alignment, dataStart };
}

function valueType(c: Cursor, code: number, key: string): ValueType {
  if (code >= VALUE_TYPES.length) c.fail(`metadata "${key}" has unknown value type ${code}`);
  return VALUE_TYPES[code];
}

function readValue(c: Cursor, type: ValueType, key: string): GgufValue {
  const what = `value of "${key}"`;
  switch (type) {
    case 'u8': return { type, value: c.take(1, what).getUint8(0) };
    case 'i8': return { type, value: c.take(1, what).getInt8(0) };
    case 'u16': return { type, value: c.take(2, what).getUint16(0, true) };
    case 'i16': return { type, value: c.take(2, what).getInt16(0, true) };
    case 'u32': return { type, value: c.take(4, what).getUint32(0, true) };
    case 'i32': return { type, value: c.take(4, what).getInt32(0, true) };
    case 'f32': return { type, value: c.take(4, what).getFloat32(0, true) };
    case 'f64': return { type, value: c.take(8, what).getFloat64(0, true) };
    case 'u64': return { type, value: c.take(8, what).getBigUint64(0, true) };
    case 'i64': return { type, value: c.take(8, what).getBigInt64(0, true) };
    case 'bool': {
      const b = c.take(1, what).getUint8(0);
      if (b > 1) c.fail(`metadata "${key}" is a bool of value ${b}`);
      return { type, value: b === 1 };
    }
    case 'string': return { type, value: c.string(what) };
    case 'array': {
      const itemType = valueType(c, c.u32(`item type of "${key}"`), key);
      // strings and nested arrays take at least 8 bytes (their length) per item
      const count = c.u64(`item count of "${key}"`, Math.floor(c.left / (VALUE_BYTES[itemType] ?? 8)));
      const items: GgufValue[] = [];
      for (let i = 0; i < count; i++) items.push(readValue(c, itemType, key));
      return { type, itemType, items };
    }
  }
}

function alignmentOf(c: Cursor, metadata: Map<string, GgufValue>): number {
  const v = metadata.get('general.alignment');
  if (v === undefined) return DEFAULT_ALIGNMENT;
  if (v.type !== 'u32' || v.value === 0 || (v.value & (v.value - 1)) !== 0) {
    c.fail(`general.alignment must be a u32 power of two, got ${v.type} ${'value' in v ? String(v.value) : ''}`);
  }
  return v.value;
}

function readTensorInfo(c: Cursor, i: number): GgufTensorInfo {
  const name = c.string(`name of tensor ${i}`);
  if (Buffer.byteLength(name) >= MAX_NAME) c.fail(`tensor name "${name}" is ${Buffer.byteLength(name)} bytes, ggml allows ${MAX_NAME - 1}`);
  const nDims = c.u32(`dimension count of "${name}"`);
  if (nDims < 1 || nDims > MAX_DIMS) c.fail(`tensor "${name}" has ${nDims} dimensions, ggml allows 1 to ${MAX_DIMS}`);
  const ne: number[] = [];
  for (let d = 0; d < nDims; d++) ne.push(c.u64(`dimension ${d} of "${name}"`, c.f.size));
  const code = c.u32(`type of "${name}"`);
  const type = tensorTypeById(code);
  if (type === undefined) {
    const known = OTHER_GGML_TYPES[code];
    c.fail(`tensor "${name}" has ${known ? `ggml type ${known}, which is not supported` : `unknown ggml type ${code}`} (supported: ${Object.keys(TENSOR_TYPES).join(', ')})`);
  }
  const offset = c.u64(`offset of "${name}"`, c.f.size);
  const count = numel(ne);
  if (count > c.f.size * TENSOR_TYPES[type].blockSize) c.fail(`tensor "${name}" of shape [${ne}] is larger than the file`);
  if (ne[0] % TENSOR_TYPES[type].blockSize !== 0) {
    c.fail(`tensor "${name}" has ne[0] = ${ne[0]}, not a multiple of ${type}'s block of ${TENSOR_TYPES[type].blockSize}`);
  }
  return { name, ne, type, offset, bytes: tensorBytes(type, count) };
}

/** One tensor as f32, row-major shape (ne reversed); quantized types are dequantized. */
export function readGgufTensor(f: ReadFile, header: GgufHeader, info: GgufTensorInfo): HostTensor {
  const count = numel(info.ne);
  const shape = [...info.ne].reverse();
  const where = `${f.path}: tensor "${info.name}"`;
  if (info.type === 'F32') {
    const data = new Float32Array(count);
    readAt(f, new Uint8Array(data.buffer), header.dataStart + info.offset);
    return { shape, dtype: 'f32', data };
  }
  return { shape, dtype: 'f32', data: decodeTensor(readBytes(f, header.dataStart + info.offset, info.bytes), info.type, count, where) };
}

/** Header and every tensor by name (f32, row-major). */
export function readGguf(file: string): { header: GgufHeader; tensors: Map<string, HostTensor> } {
  const f = openRead(file);
  try {
    const header = readGgufHeader(f);
    const tensors = new Map<string, HostTensor>();
    for (const info of header.tensors) tensors.set(info.name, readGgufTensor(f, header, info));
    return { header, tensors };
  } finally {
    closeRead(f);
  }
}
