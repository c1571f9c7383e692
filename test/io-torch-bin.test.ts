import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES } from './fixtures.js';
import * as zlib from 'node:zlib';
import { UserError } from '../src/errors.js';
import { readTorchBin } from '../src/io/torch-bin.js';

const fixtures = path.join(FIXTURES, 'mamba_ssm');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'io-torch-bin-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function throwsUser(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return true;
  });
}

// ---- a minimal pickle writer (protocol 2 opcodes, as torch.save emits) ----
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const P = {
  proto: Buffer.from([0x80, 2]),
  stop: Buffer.from('.'),
  mark: Buffer.from('('),
  tuple: Buffer.from('t'),
  emptyTuple: Buffer.from(')'),
  emptyDict: Buffer.from('}'),
  setitems: Buffer.from('u'),
  reduce: Buffer.from('R'),
  build: Buffer.from('b'),
  persid: Buffer.from('Q'),
  false: Buffer.from([0x89]),
  str: (s: string) => Buffer.concat([Buffer.from('X'), u32(Buffer.byteLength(s)), Buffer.from(s)]),
  int: (n: number) => (n < 256 ? Buffer.from([0x4b, n]) : Buffer.concat([Buffer.from('J'), u32(n)])),
  global: (m: string, n: string) => Buffer.from(`c${m}\n${n}\n`),
  tupleOf: (...items: Buffer[]) => Buffer.concat([Buffer.from('('), ...items, Buffer.from('t')]),
};

/** _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict()) */
function tensorPickle(type: string, key: string, numel: number, offset: number, size: number[], stride: number[]): Buffer {
  return Buffer.concat([
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.tupleOf(
      Buffer.concat([P.tupleOf(P.str('storage'), P.global('torch', type), P.str(key), P.str('cpu'), P.int(numel)), P.persid]),
      P.int(offset), P.tupleOf(...size.map(P.int)), P.tupleOf(...stride.map(P.int)), P.false,
      Buffer.concat([P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce]),
    ),
    P.reduce,
  ]);
}

/** An OrderedDict state dict with a `_metadata` attribute set by BUILD, as state_dict() pickles. */
function stateDict(entries: [string, Buffer][]): Buffer {
  return Buffer.concat([
    P.proto, P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce,
    P.mark, ...entries.flatMap(([k, v]) => [P.str(k), v]), P.setitems,
    P.emptyDict, P.str('_metadata'), P.emptyDict, Buffer.from('s'), P.build,
    P.stop,
  ]);
}

// ---- a minimal zip writer: stored or deflated entries, optional zip64 records ----
interface ZipInput { name: string; data: Uint8Array; deflate?: boolean }

function zipBytes(inputs: ZipInput[], zip64 = false): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, data, deflate } of inputs) {
    const body = deflate ? zlib.deflateRawSync(data) : Buffer.from(data);
    const crc = zlib.crc32(data);
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    parts.push(local, nameBytes, body);
    const extra = Buffer.alloc(zip64 ? 28 : 0);
    if (zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(deflate ? 8 : 0, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(zip64 ? 0xffffffff : body.length, 20);
    c.writeUInt32LE(zip64 ? 0xffffffff : data.length, 24);
    c.writeUInt16LE(nameBytes.length, 28);
    c.writeUInt16LE(extra.length, 30);
    c.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
    central.push(c, nameBytes, extra);
    offset += 30 + nameBytes.length + body.length;
  }
  const cd = Buffer.concat(central);
  const tail: Buffer[] = [];
  if (zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeBigUInt64LE(BigInt(inputs.length), 24);
    rec.writeBigUInt64LE(BigInt(inputs.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(zip64 ? 0xffff : inputs.length, 8);
  eocd.writeUInt16LE(zip64 ? 0xffff : inputs.length, 10);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : offset, 16);
  return Buffer.concat([...parts, cd, ...tail, eocd]);
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function writeZip(name: string, inputs: ZipInput[], zip64 = false): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, zipBytes(inputs, zip64));
  return file;
}

const s0 = new Float32Array([0, 1, 2, 3, 4, 5]);
const halfs = new Uint16Array([0x3c00, 0x4000, 0x4200, 0x4400, 0xbc00]); // 1, 2, 3, 4, -1
const bf16 = new Uint16Array([0x3f80, 0xc0a0]); // 1, -5
const longs = new BigInt64Array([1n, -2n, 3n]);
const doubles = new Float64Array([0.5, -0.25]);

function syntheticArchive(prefix: string): ZipInput[] {
  const pkl = stateDict([
    ['a', tensorPickle('FloatStorage', '0', 6, 0, [2, 3], [3, 1])],
    ['aT', tensorPickle('FloatStorage', '0', 6, 0, [3, 2], [1, 3])],
    ['a2', tensorPickle('FloatStorage', '0', 6, 0, [2, 3], [3, 1])],
    ['off', tensorPickle('HalfStorage', '1', 5, 2, [3], [1])],
    ['bf', tensorPickle('BFloat16Storage', '2', 2, 0, [2], [1])],
    ['l', tensorPickle('LongStorage', '3', 3, 0, [3], [1])],
    ['p', Buffer.concat([P.global('torch._utils', '_rebuild_parameter'),
      P.tupleOf(tensorPickle('DoubleStorage', '4', 2, 0, [1, 2], [2, 1]), P.false,
        Buffer.concat([P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce])), P.reduce])],
    ['col', tensorPickle('FloatStorage', '0', 6, 1, [2], [3])],
  ]);
  return [
    { name: `${prefix}/data.pkl`, data: pkl },
    { name: `${prefix}/byteorder`, data: Buffer.from('little') },
    { name: `${prefix}/data/0`, data: bytesOf(s0), deflate: true },
    { name: `${prefix}/data/1`, data: bytesOf(halfs) },
    { name: `${prefix}/data/2`, data: bytesOf(bf16) },
    { name: `${prefix}/data/3`, data: bytesOf(longs) },
    { name: `${prefix}/data/4`, data: bytesOf(doubles) },
  ];
}

function checkSynthetic(t: ReturnType<typeof readTorchBin>): void {
  assert.deepEqual([...t.keys()], ['a', 'aT', 'a2', 'off', 'bf', 'l', 'p', 'col']);
  assert.deepEqual(t.get('a')!.shape, [2, 3]);
  assert.deepEqual([...t.get('a')!.data], [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(t.get('aT')!.shape, [3, 2]);
  assert.deepEqual([...t.get('aT')!.data], [0, 3, 1, 4, 2, 5]);
  assert.deepEqual([...t.get('off')!.data], [3, 4, -1]);
  assert.equal(t.get('off')!.dtype, 'f32');
  assert.deepEqual([...t.get('bf')!.data], [1, -5]);
  assert.equal(t.get('l')!.dtype, 'i32');
  assert.deepEqual([...t.get('l')!.data], [1, -2, 3]);
  assert.deepEqual(t.get('p')!.shape, [1, 2]);
  assert.deepEqual([...t.get('p')!.data], [0.5, -0.25]);
  assert.deepEqual([...t.get('col')!.data], [1, 4]);
  // tensors that share a storage do not share memory
  t.get('a')!.data[0] = 99;
  assert.equal(t.get('a2')!.data[0], 0);
}

test('synthetic archive: offsets, strides, shared storages, dtypes, deflate, OrderedDict BUILD', () => {
  checkSynthetic(readTorchBin(writeZip('synthetic.bin', syntheticArchive('my_model'))));
});

test('zip64 central directory and extra fields', () => {
  checkSynthetic(readTorchBin(writeZip('zip64.bin', syntheticArchive('archive'), true)));
});

test('fixtures: mamba_ssm pytorch_model.bin files load with exact values; tied lm_head equals the embedding', () => {
  const m1 = readTorchBin(path.join(fixtures, 'ms-mamba1/pytorch_model.bin'));
  assert.equal(m1.size, 23);
  const emb = m1.get('backbone.embedding.weight')!;
  assert.deepEqual(emb.shape, [304, 64]);
  assert.deepEqual([...emb.data.subarray(0, 3)], [-0.009290410205721855, -0.018615571781992912, 0.004263345617800951]);
  assert.deepEqual(m1.get('backbone.layers.0.mixer.conv1d.weight')!.shape, [128, 1, 4]);
  assert.deepEqual(m1.get('backbone.layers.0.mixer.x_proj.weight')!.shape, [36, 128]);
  const out = m1.get('backbone.layers.1.mixer.out_proj.weight')!;
  assert.deepEqual(out.shape, [64, 128]);
  assert.equal(out.data[0], 0.011649705469608307);
  assert.equal(out.data[8191], 0.03820269554853439);
  const normF = m1.get('backbone.norm_f.weight')!;
  assert.equal(normF.data[0], 1.170393943786621);
  assert.equal(normF.data[63], 0.9968045949935913);
  const head = m1.get('lm_head.weight')!;
  assert.deepEqual(head.shape, [304, 64]);
  assert.deepEqual([...head.data], [...emb.data]);
  assert.notEqual(head.data, emb.data);

  const g2 = readTorchBin(path.join(fixtures, 'ms-mamba2-g2/pytorch_model.bin'));
  assert.deepEqual(g2.get('backbone.layers.0.mixer.in_proj.weight')!.shape, [328, 64]);
  assert.deepEqual(g2.get('backbone.layers.0.mixer.conv1d.weight')!.shape, [192, 1, 4]);
  assert.deepEqual([...g2.get('lm_head.weight')!.data], [...g2.get('backbone.embedding.weight')!.data]);

  const hy = readTorchBin(path.join(fixtures, 'ms-hybrid/pytorch_model.bin'));
  assert.equal(hy.size, 45);
  assert.deepEqual(hy.get('backbone.layers.1.mixer.in_proj.weight')!.shape, [128, 64]);
  assert.equal(hy.get('backbone.layers.1.mixer.out_proj.weight')!.data[4095], 0.04211241006851196);
  assert.equal(hy.get('backbone.norm_f.weight')!.data[63], 1.1034948825836182);
  assert.deepEqual(hy.get('backbone.layers.0.mlp.fc1.weight')!.shape, [256, 64]);
  assert.notDeepEqual([...hy.get('lm_head.weight')!.data], [...hy.get('backbone.embedding.weight')!.data]);
});

test('a pickle that names a global outside the allowlist is refused, not run', () => {
  const evil = Buffer.concat([P.proto, P.global('os', 'system'), P.tupleOf(P.str('echo hi')), P.reduce, P.stop]);
  const file = writeZip('evil.bin', [{ name: 'x/data.pkl', data: evil }]);
  throwsUser(() => readTorchBin(file), file, 'os.system', 'not allowed');
});

test('corrupt, truncated and unsupported files are UserErrors naming the file', () => {
  const missing = path.join(tmp, 'missing.bin');
  throwsUser(() => readTorchBin(missing), missing, 'not found');

  const legacy = path.join(tmp, 'legacy.bin');
  fs.writeFileSync(legacy, Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8]));
  throwsUser(() => readTorchBin(legacy), legacy, 'legacy');

  const text = path.join(tmp, 'text.bin');
  fs.writeFileSync(text, 'hello world');
  throwsUser(() => readTorchBin(text), text, 'not a PyTorch zip');

  const good = zipBytes(syntheticArchive('t'));
  const cut = path.join(tmp, 'cut.bin');
  fs.writeFileSync(cut, good.subarray(0, Math.floor(good.length * 0.6)));
  throwsUser(() => readTorchBin(cut), cut, 'corrupt zip');

  // The central directory claims more bytes for the last entry than the file holds (and than the
  // storage's declared elements, which is checked first, before anything is read).
  const long = Buffer.from(good);
  const lastEntry = long.lastIndexOf(Buffer.from('t/data/4'));
  const header = lastEntry - 46;
  assert.equal(long.readUInt32LE(header), 0x02014b50);
  long.writeUInt32LE(0x7fffffff, header + 20);
  long.writeUInt32LE(0x7fffffff, header + 24);
  const longFile = path.join(tmp, 'long.bin');
  fs.writeFileSync(longFile, long);
  throwsUser(() => readTorchBin(longFile), longFile, 't/data/4', 'has 2147483647 bytes', 'are 16');

  const flipped = Buffer.from(good);
  const at = flipped.indexOf(Buffer.from(bytesOf(bf16)));
  flipped[at] ^= 0xff;
  const crc = path.join(tmp, 'crc.bin');
  fs.writeFileSync(crc, flipped);
  throwsUser(() => readTorchBin(crc), crc, 'CRC mismatch');

  const badPickle = writeZip('badpickle.bin', [{ name: 'a/data.pkl', data: stateDict([]).subarray(0, 10) }]);
  throwsUser(() => readTorchBin(badPickle), badPickle, 'bad pickle');

  const opcode = writeZip('opcode.bin', [{ name: 'a/data.pkl', data: Buffer.from([0x80, 2, 0x01, 0x2e]) }]);
  throwsUser(() => readTorchBin(opcode), opcode, 'unsupported opcode 0x01');

  const noPkl = writeZip('nopkl.bin', [{ name: 'a/other', data: Buffer.from('x') }]);
  throwsUser(() => readTorchBin(noPkl), noPkl, 'data.pkl');

  const noStorage = writeZip('nostorage.bin', syntheticArchive('m').filter((e) => !e.name.endsWith('/data/3')));
  throwsUser(() => readTorchBin(noStorage), noStorage, '"l"', 'm/data/3', 'missing');

  const strided = writeZip('strided.bin', [
    { name: 'm/data.pkl', data: stateDict([['w', tensorPickle('FloatStorage', '0', 6, 2, [2, 3], [3, 1])]]) },
    { name: 'm/data/0', data: bytesOf(s0) },
  ]);
  throwsUser(() => readTorchBin(strided), strided, '"w"', 'past its storage');

  const bigLong = writeZip('biglong.bin', [
    { name: 'm/data.pkl', data: stateDict([['ids', tensorPickle('LongStorage', '0', 1, 0, [1], [1])]]) },
    { name: 'm/data/0', data: bytesOf(new BigInt64Array([1n << 40n])) },
  ]);
  throwsUser(() => readTorchBin(bigLong), bigLong, '"ids"', 'int32');
});
