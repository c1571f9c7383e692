/**
 * Writes a GGUF v3 file (format.ts) the way gguf-py's GGUFWriter lays it out: tensors in the
 * given order, each at the next multiple of the alignment after the previous one (llama.cpp
 * checks exactly these offsets), every tensor padded to the alignment. Written atomically.
 */
import { UserError } from '../../errors.js';
import { writeAll, writeAtomic } from '../files.js';
import { numel } from '../host-tensor.js';
import {
  alignUp, DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, MAX_NAME, TENSOR_TYPES, tensorBytes, VALUE_TYPES, type GgufValue,
  type TensorType,
} from './format.js';
import { encodeTensor } from './quant.js';

export interface GgufTensorOut {
  name: string;
  /** row-major shape; written reversed as ggml's ne */
  shape: number[];
  data: Float32Array;
  type: TensorType;
}

/** Growing little-endian byte buffer for the header. */
class Bytes {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const bigger = Buffer.alloc(Math.max(2 * this.buf.length, this.length + n));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  // room() may replace this.buf, so it runs before the buffer is read
  private put(n: number, write: (buf: Buffer, at: number) => void): void {
    const at = this.room(n);
    write(this.buf, at);
  }

  u8(v: number): void { this.put(1, (b, at) => b.writeUInt8(v, at)); }
  i8(v: number): void { this.put(1, (b, at) => b.writeInt8(v, at)); }
  u16(v: number): void { this.put(2, (b, at) => b.writeUInt16LE(v, at)); }
  i16(v: number): void { this.put(2, (b, at) => b.writeInt16LE(v, at)); }
  u32(v: number): void { this.put(4, (b, at) => b.writeUInt32LE(v, at)); }
  i32(v: number): void { this.put(4, (b, at) => b.writeInt32LE(v, at)); }
  f32(v: number): void { this.put(4, (b, at) => b.writeFloatLE(v, at)); }
  f64(v: number): void { this.put(8, (b, at) => b.writeDoubleLE(v, at)); }
  u64(v: number | bigint): void { this.put(8, (b, at) => b.writeBigUInt64LE(BigInt(v), at)); }
  i64(v: bigint): void { this.put(8, (b, at) => b.writeBigInt64LE(v, at)); }

  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.put(b.length, (buf, at) => b.copy(buf, at));
  }

  value(v: GgufValue): void {
    switch (v.type) {
      case 'bool': return this.u8(v.value ? 1 : 0);
      case 'string': return this.string(v.value);
      case 'u64': return this.u64(v.value);
      case 'i64': return this.i64(v.value);
      case 'array':
        this.u32(VALUE_TYPES.indexOf(v.itemType));
        this.u64(v.items.length);
        for (const item of v.items) {
          if (item.type !== v.itemType) throw new Error(`GGUF array of ${v.itemType} holds a ${item.type}`);
          this.value(item);
        }
        return;
      default: return this[v.type](v.value);
    }
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export function writeGguf(
  file: string, metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorOut[], alignment = DEFAULT_ALIGNMENT,
): void {
  const al = metadata.get('general.alignment');
  if (al && (al.type !== 'u32' || al.value !== alignment)) throw new Error('writeGguf: general.alignment disagrees with the alignment argument');
  const head = new Bytes();
  for (const c of GGUF_MAGIC) head.u8(c.charCodeAt(0));
  head.u32(GGUF_VERSION);
  head.u64(tensors.length);
  head.u64(metadata.size);
  for (const [key, v] of metadata) {
    head.string(key);
    head.u32(VALUE_TYPES.indexOf(v.type));
    head.value(v);
  }
  let offset = 0;
  for (const t of tensors) {
    if (Buffer.byteLength(t.name) >= MAX_NAME) throw new UserError(`${file}: tensor name "${t.name}" is too long for ggml (${MAX_NAME - 1} bytes at most)`);
    if (t.data.length !== numel(t.shape)) throw new Error(`writeGguf: tensor "${t.name}" has ${t.data.length} elements for shape [${t.shape}]`);
    const ne = [...t.shape].reverse();
    if (ne[0] % TENSOR_TYPES[t.type].blockSize !== 0) {
      throw new Error(`writeGguf: tensor "${t.name}" has rows of ${ne[0]}, not a multiple of ${t.type}'s block`);
    }
    head.string(t.name);
    head.u32(ne.length);
    for (const n of ne) head.u64(n);
    head.u32(TENSOR_TYPES[t.type].id);
    head.u64(offset);
    offset += alignUp(tensorBytes(t.type, t.data.length), alignment);
  }
  const header = head.bytes();
  const pad = (n: number) => new Uint8Array(alignUp(n, alignment) - n);
  writeAtomic(file, (fd) => {
    writeAll(fd, header);
    writeAll(fd, pad(header.length));
    for (const t of tensors) {
      // one tensor's encoding at a time: a quantized copy of the whole model is never held
      const bytes = encodeTensor(t.data, t.type);
      writeAll(fd, bytes);
      writeAll(fd, pad(bytes.length));
    }
  });
}
