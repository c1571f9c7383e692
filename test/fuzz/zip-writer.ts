/** Zip archives as torch.save writes them (stored entries), for building mutated checkpoints. */
import * as zlib from 'node:zlib';

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** deflate the entry instead of storing it */
  deflate?: boolean;
  /** the uncompressed size the directories claim (default: the real one) */
  claimedSize?: number;
}

export function zipBytes(inputs: readonly ZipInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of inputs) {
    const name = Buffer.from(e.name);
    const packed = e.deflate ? zlib.deflateRawSync(e.data) : Buffer.from(e.data);
    const crc = zlib.crc32(e.data);
    const size = e.claimedSize ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    centrals.push(central, name);
    offset += 30 + name.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(inputs.length, 8);
  eocd.writeUInt16LE(inputs.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

// ---- a minimal pickle writer (the protocol 2 opcodes torch.save emits) ----
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
export const P = {
  str: (s: string) => Buffer.concat([Buffer.from('X'), u32(Buffer.byteLength(s)), Buffer.from(s)]),
  int: (n: number) => (n >= 0 && n < 256 ? Buffer.from([0x4b, n]) : Buffer.concat([Buffer.from('J'), u32(n >>> 0)])),
  /** LONG4 of `bytes` little-endian bytes */
  long4: (bytes: Uint8Array) => Buffer.concat([Buffer.from([0x8b]), u32(bytes.length), bytes]),
  global: (m: string, n: string) => Buffer.from(`c${m}\n${n}\n`),
  tupleOf: (...items: Buffer[]) => Buffer.concat([Buffer.from('('), ...items, Buffer.from('t')]),
};

/** _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict()) */
export function tensorPickle(type: string, key: Buffer, numel: Buffer, offset: number, size: Buffer[], stride: Buffer[]): Buffer {
  return Buffer.concat([
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.tupleOf(
      Buffer.concat([P.tupleOf(P.str('storage'), P.global('torch', type), key, P.str('cpu'), numel), Buffer.from('Q')]),
      P.int(offset), P.tupleOf(...size), P.tupleOf(...stride), Buffer.from([0x89]),
      Buffer.concat([P.global('collections', 'OrderedDict'), Buffer.from(')R')]),
    ),
    Buffer.from('R'),
  ]);
}

export function stateDictPickle(entries: [string, Buffer][]): Buffer {
  return Buffer.concat([
    Buffer.from([0x80, 2]), P.global('collections', 'OrderedDict'), Buffer.from(')R'),
    Buffer.from('('), ...entries.flatMap(([k, v]) => [P.str(k), v]), Buffer.from('u.'),
  ]);
}
