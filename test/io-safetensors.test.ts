import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../src/errors.js';
import { readSafetensors, readSafetensorsWithMetadata, writeSafetensors } from '../src/io/safetensors.js';
import type { HostTensor } from '../src/io/host-tensor.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'io-safetensors-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A safetensors file from a raw header object and data bytes. */
function rawFile(name: string, header: unknown, data: Uint8Array, headerText = JSON.stringify(header)): string {
  const h = Buffer.from(headerText);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const file = path.join(tmp, name);
  fs.writeFileSync(file, Buffer.concat([len, h, data]));
  return file;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function throwsUser(fn: () => unknown, ...parts: (string | RegExp)[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
    for (const p of parts) {
      if (typeof p === 'string') assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
      else assert.match(e.message, p);
    }
    return true;
  });
}

test('f32 and i32 round trip with metadata; header padded to 8 bytes', () => {
  const tensors = new Map<string, HostTensor>([
    ['w', { shape: [2, 3], dtype: 'f32', data: new Float32Array([1.5, -2, 3.25, 0, 1e-30, -7]) }],
    ['ids', { shape: [4], dtype: 'i32', data: new Int32Array([0, -1, 2147483647, -2147483648]) }],
    ['empty', { shape: [0, 5], dtype: 'f32', data: new Float32Array(0) }],
    ['scalar', { shape: [], dtype: 'f32', data: new Float32Array([42]) }],
  ]);
  const file = path.join(tmp, 'rt.safetensors');
  writeSafetensors(file, tensors, { format: 'pt', note: 'x' });
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  assert.equal(raw.length, 8 + n + 6 * 4 + 4 * 4 + 4);
  const header = JSON.parse(raw.subarray(8, 8 + n).toString());
  assert.deepEqual(header.ids, { dtype: 'I32', shape: [4], data_offsets: [24, 40] });
  const { tensors: back, metadata } = readSafetensorsWithMetadata(file);
  assert.deepEqual(metadata, { format: 'pt', note: 'x' });
  assert.deepEqual([...back.keys()], ['w', 'ids', 'empty', 'scalar']);
  for (const [k, t] of tensors) {
    const b = back.get(k)!;
    assert.deepEqual(b.shape, t.shape);
    assert.equal(b.dtype, t.dtype);
    assert.deepEqual([...b.data], [...t.data]);
  }
  assert.ok(back.get('w')!.data instanceof Float32Array);
  assert.ok(back.get('ids')!.data instanceof Int32Array);
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes('rt.safetensors')), ['rt.safetensors'], 'no temp file left');
});

test('writing over an existing file replaces it atomically', () => {
  const file = path.join(tmp, 'over.safetensors');
  writeSafetensors(file, new Map([['a', { shape: [1], dtype: 'f32', data: new Float32Array([1]) }]]));
  writeSafetensors(file, new Map([['b', { shape: [2], dtype: 'i32', data: new Int32Array([3, 4]) }]]));
  const back = readSafetensors(file);
  assert.deepEqual([...back.keys()], ['b']);
  assert.deepEqual([...back.get('b')!.data], [3, 4]);
});

test('f16, bf16 and f64 upcast/downcast to f32 (hand-computed values)', () => {
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x7c00, 0xfc00, 0x8000, 0x7e00]);
  const bf16 = new Uint16Array([0x3f80, 0xc0a0, 0x3eab, 0x7f80, 0x0000, 0x8000]);
  const f64 = new Float64Array([0.1, -1e300, 3]);
  const data = new Uint8Array(18 + 12 + 24);
  data.set(bytesOf(f16), 0);
  data.set(bytesOf(bf16), 18);
  data.set(bytesOf(f64), 30);
  const file = rawFile('floats.safetensors', {
    h: { dtype: 'F16', shape: [9], data_offsets: [0, 18] },
    b: { dtype: 'BF16', shape: [2, 3], data_offsets: [18, 30] },
    d: { dtype: 'F64', shape: [3], data_offsets: [30, 54] },
  }, data);
  const t = readSafetensors(file);
  const h = t.get('h')!;
  assert.equal(h.dtype, 'f32');
  assert.deepEqual([...h.data].slice(0, 8), [1, -2, 0.333251953125, 65504, 2 ** -24, Infinity, -Infinity, -0]);
  assert.ok(Number.isNaN(h.data[8]));
  const b = t.get('b')!;
  assert.deepEqual(b.shape, [2, 3]);
  assert.deepEqual([...b.data], [1, -5, 0.333984375, Infinity, 0, -0]);
  assert.deepEqual([...t.get('d')!.data], [Math.fround(0.1), -Infinity, 3]);
});

test('integer dtypes and bools become i32', () => {
  const i64 = new BigInt64Array([5n, -7n, 2147483647n, -2147483648n]);
  const i16 = new Int16Array([-300, 300]);
  const data = new Uint8Array(32 + 4 + 2 + 2 + 2);
  data.set(bytesOf(i64), 0);
  data.set(bytesOf(i16), 32);
  data.set([0xff, 0x80], 36); // I8: -1, -128
  data.set([200, 7], 38); // U8
  data.set([1, 0], 40); // BOOL
  const file = rawFile('ints.safetensors', {
    __metadata__: { format: 'pt' },
    l: { dtype: 'I64', shape: [4], data_offsets: [0, 32] },
    s: { dtype: 'I16', shape: [2], data_offsets: [32, 36] },
    c: { dtype: 'I8', shape: [2], data_offsets: [36, 38] },
    u: { dtype: 'U8', shape: [2], data_offsets: [38, 40] },
    b: { dtype: 'BOOL', shape: [2], data_offsets: [40, 42] },
  }, data);
  const t = readSafetensors(file);
  for (const v of t.values()) assert.ok(v.data instanceof Int32Array);
  assert.deepEqual([...t.get('l')!.data], [5, -7, 2147483647, -2147483648]);
  assert.deepEqual([...t.get('s')!.data], [-300, 300]);
  assert.deepEqual([...t.get('c')!.data], [-1, -128]);
  assert.deepEqual([...t.get('u')!.data], [200, 7]);
  assert.deepEqual([...t.get('b')!.data], [1, 0]);
});

test('int64 beyond int32 is a UserError naming the tensor', () => {
  const file = rawFile('big.safetensors', { ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } },
    bytesOf(new BigInt64Array([1n, 2147483648n])));
  throwsUser(() => readSafetensors(file), file, '"ids"', 'int32');
});

test('every malformed file is a UserError naming the file and the problem', () => {
  const missing = path.join(tmp, 'nope.safetensors');
  throwsUser(() => readSafetensors(missing), missing, 'not found');

  const short = path.join(tmp, 'short.safetensors');
  fs.writeFileSync(short, Buffer.from([1, 2, 3]));
  throwsUser(() => readSafetensors(short), short, '3 bytes');

  const long = path.join(tmp, 'long.safetensors');
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(1n << 40n);
  fs.writeFileSync(long, b);
  throwsUser(() => readSafetensors(long), long, 'header length', 'does not fit in the file');

  const pastEnd = path.join(tmp, 'pastend.safetensors');
  b.writeBigUInt64LE(9n);
  fs.writeFileSync(pastEnd, b);
  throwsUser(() => readSafetensors(pastEnd), pastEnd, 'header length 9');

  const notJson = rawFile('notjson.safetensors', null, new Uint8Array(0), '{"a": [1, 2');
  throwsUser(() => readSafetensors(notJson), notJson, 'not JSON');

  const f4 = bytesOf(new Float32Array([1, 2]));
  const dtype = rawFile('dtype.safetensors', { x: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, f4);
  throwsUser(() => readSafetensors(dtype), dtype, '"x"', 'F8_E4M3');

  const order = rawFile('order.safetensors', { x: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f4);
  throwsUser(() => readSafetensors(order), order, '"x"', 'end before');

  const overlap = rawFile('overlap.safetensors', {
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
  }, f4);
  throwsUser(() => readSafetensors(overlap), overlap, '"b" overlaps tensor "a"');

  const past = rawFile('past.safetensors', { x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } }, f4);
  throwsUser(() => readSafetensors(past), past, '"x"', 'past the end');

  const count = rawFile('count.safetensors', { x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f4);
  throwsUser(() => readSafetensors(count), count, '"x"', '8 bytes', 'needs 12');

  const shape = rawFile('shape.safetensors', { x: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, f4);
  throwsUser(() => readSafetensors(shape), shape, '"x"', 'shape');

  const meta = rawFile('meta.safetensors', { __metadata__: { n: 1 } }, new Uint8Array(0));
  throwsUser(() => readSafetensors(meta), meta, '__metadata__');
});
