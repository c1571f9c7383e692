/**
 * GGUF reading and writing: the llama.cpp-made fixtures reproduce the HF folders' logits, files
 * written here read back bit for bit (metadata, tensors, layout), the quantizers match
 * ggml's reference rows on hand-checked blocks, and bad files fail with one line each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../src/errors.js';
import { readCheckpoint } from '../src/io/checkpoint.js';
import { readGguf } from '../src/io/gguf/read.js';
import { writeGguf } from '../src/io/gguf/write.js';
import { readGgufModel, writeGgufModel } from '../src/io/gguf/model.js';
import { decodeTensor, encodeTensor, toHalf } from '../src/io/gguf/quant.js';
import type { GgufValue } from '../src/io/gguf/format.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadModel } from '../src/model/load.js';
import { cpu, host, maxAbsDiff } from './cpu-util.js';
import { FIXTURES } from './fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'io-gguf-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function throwsUser(fn: () => unknown, ...parts: (string | RegExp)[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    for (const p of parts) {
      if (typeof p === 'string') assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
      else assert.match(e.message, p);
    }
    return true;
  });
}

for (const name of ['mamba1-tiny', 'mamba2-tiny']) {
  test(`gguf/${name}.gguf (llama.cpp's conventions) gives the HF folder's logits`, async (t) => {
    const expected = readSafetensors(path.join(FIXTURES, 'hf', name, 'expected.safetensors'));
    const ids = expected.get('input_ids')!;
    const [B, L] = ids.shape;
    const model = await loadModel(path.join(FIXTURES, 'gguf', `${name}.gguf`), cpu);
    const want = expected.get('logits')!;
    assert.equal(model.vocabPadded, want.shape[2]);
    const err = maxAbsDiff(host(model.forward(cpu.upload(ids.data, [B, L])).logits), want.data as Float32Array);
    t.diagnostic(`max abs error ${err.toExponential(2)}`);
    assert.ok(err < 1e-4, `logits error ${err}`);
  });

  test(`hf/${name} -> GGUF -> canonical weights: same config, weights within f32 rounding of A`, () => {
    const src = readCheckpoint(path.join(FIXTURES, 'hf', name));
    const file = path.join(tmp, `${name}.gguf`);
    writeGgufModel(file, src.config, src.weights, { type: 'f32', name });
    const back = readGgufModel(file);
    assert.deepEqual([...back.weights.keys()].sort(), [...src.weights.keys()].sort());
    assert.equal(back.config.tieEmbeddings, src.config.tieEmbeddings);
    assert.deepEqual(back.config.layers[0].mixer.kind, src.config.layers[0].mixer.kind);
    for (const [k, w] of src.weights) {
      const got = back.weights.get(k)!;
      assert.deepEqual(got.shape, w.shape, k);
      // A_log passes through −exp and log: a few ulps; everything else is copied
      const d = maxAbsDiff(got.data as Float32Array, w.data as Float32Array);
      if (k.endsWith('A_log')) assert.ok(d < 1e-6, `${k}: ${d}`);
      else assert.equal(d, 0, k);
    }
  });
}

test('our GGUF of hf/mamba1-tiny equals the llama.cpp-convention fixture in metadata and tensors', () => {
  const src = readCheckpoint(path.join(FIXTURES, 'hf', 'mamba1-tiny'));
  const file = path.join(tmp, 'm1-like-fixture.gguf');
  writeGgufModel(file, src.config, src.weights, { type: 'f32', name: 'mamba1-tiny', special: { bos: 0, eos: 0 } });
  const ours = readGguf(file);
  const theirs = readGguf(path.join(FIXTURES, 'gguf', 'mamba1-tiny.gguf'));
  assert.deepEqual([...ours.header.metadata.keys()].sort(), [...theirs.header.metadata.keys()].sort());
  for (const [k, v] of theirs.header.metadata) assert.deepEqual(ours.header.metadata.get(k), v, k);
  assert.deepEqual(ours.header.tensors.map((t) => [t.name, t.ne, t.type, t.offset]), theirs.header.tensors.map((t) => [t.name, t.ne, t.type, t.offset]));
  for (const [k, t] of theirs.tensors) assert.ok(maxAbsDiff(ours.tensors.get(k)!.data as Float32Array, t.data as Float32Array) <= 1e-6, k);
});

test('writeGguf -> readGguf: every value type, arrays, alignment, exact tensors', () => {
  const meta = new Map<string, GgufValue>([
    ['general.alignment', { type: 'u32', value: 64 }],
    ['a.u8', { type: 'u8', value: 255 }], ['a.i8', { type: 'i8', value: -128 }],
    ['a.u16', { type: 'u16', value: 65535 }], ['a.i16', { type: 'i16', value: -32768 }],
    ['a.u32', { type: 'u32', value: 4294967295 }], ['a.i32', { type: 'i32', value: -2147483648 }],
    ['a.f32', { type: 'f32', value: Math.fround(0.1) }], ['a.f64', { type: 'f64', value: 0.1 }],
    ['a.u64', { type: 'u64', value: 18446744073709551615n }], ['a.i64', { type: 'i64', value: -9223372036854775808n }],
    ['a.bool', { type: 'bool', value: true }], ['a.str', { type: 'string', value: 'Mamba ✓ ß' }],
    ['a.arr', { type: 'array', itemType: 'string', items: [{ type: 'string', value: 'x' }, { type: 'string', value: '' }] }],
    ['a.nested', { type: 'array', itemType: 'array', items: [{ type: 'array', itemType: 'i16', items: [{ type: 'i16', value: -3 }] }] }],
    // a header past the writer's first 64 KiB buffer
    ['a.many', { type: 'array', itemType: 'string', items: Array.from({ length: 5000 }, (_, i) => ({ type: 'string', value: `token ${i}` })) }],
  ]);
  const a = Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i) * 3);
  const b = Float32Array.from({ length: 5 }, (_, i) => i - 2.5);
  const file = path.join(tmp, 'values.gguf');
  writeGguf(file, meta, [
    { name: 'a', shape: [3, 64], data: a, type: 'F32' },
    { name: 'b', shape: [5], data: b, type: 'F16' },
    { name: 'c', shape: [3, 64], data: a, type: 'Q8_0' },
    { name: 'd', shape: [3, 64], data: a, type: 'Q4_0' },
  ], 64);
  const { header, tensors } = readGguf(file);
  assert.equal(header.version, 3);
  assert.equal(header.alignment, 64);
  assert.deepEqual(header.metadata, meta);
  assert.deepEqual(header.tensors.map((t) => [t.name, t.ne, t.type, t.offset % 64]), [
    ['a', [64, 3], 'F32', 0], ['b', [5], 'F16', 0], ['c', [64, 3], 'Q8_0', 0], ['d', [64, 3], 'Q4_0', 0]]);
  assert.equal(header.dataStart % 64, 0);
  assert.deepEqual(tensors.get('a')!.data, a);
  assert.deepEqual(tensors.get('a')!.shape, [3, 64]);
  assert.deepEqual(tensors.get('b')!.data, b); // halves of these are exact
  // Q8_0 rounds to half a step of max|x|/127; Q4_0's levels −8..7 clip the side opposite the
  // largest value by up to a whole step of max|x|/8
  assert.ok(maxAbsDiff(tensors.get('c')!.data as Float32Array, a) <= 3 / 127 / 2 + 1e-3);
  assert.ok(maxAbsDiff(tensors.get('d')!.data as Float32Array, a) <= 3 / 8 + 1e-2);
});

test('quantizers: hand-computed ggml blocks', () => {
  assert.equal(toHalf(1), 0x3c00);
  assert.equal(toHalf(-2), 0xc000);
  assert.equal(toHalf(65520), 0x7c00); // rounds up to infinity
  assert.equal(toHalf(1 + 2 ** -11), 0x3c00); // a tie goes to even
  assert.equal(toHalf(2 ** -24), 0x0001);
  assert.equal(toHalf(1e-9), 0);
  // Q8_0: amax 127 gives d = 1 exactly, values round half away from zero
  const x = new Float32Array(32);
  x[0] = 127; x[1] = -2.5; x[2] = 2.5; x[3] = 0.49;
  const q8 = encodeTensor(x, 'Q8_0');
  assert.deepEqual([...q8.subarray(0, 6)], [0x00, 0x3c, 127, 0xfd, 3, 0]);
  assert.deepEqual([...decodeTensor(q8, 'Q8_0', 32, 'x').subarray(0, 4)], [127, -3, 3, 0]);
  // Q4_0: the largest |x| is −16, so d = −16/−8 = 2; q = trunc(x/d + 8.5), capped at 15
  const y = new Float32Array(32);
  y[0] = -16; y[16] = 14; y[1] = 3; y[17] = 100 / 7;
  const q4 = encodeTensor(y, 'Q4_0');
  assert.deepEqual([...q4.subarray(0, 4)], [0x00, 0x40, 0x00 | (15 << 4), 10 | (15 << 4)]);
  const dq = decodeTensor(q4, 'Q4_0', 32, 'y');
  assert.deepEqual([dq[0], dq[1], dq[16], dq[17], dq[2]], [-16, 4, 14, 14, 0]); // 3/2 + 8.5 = 10: 4
});

/** A small valid GGUF's bytes, then `edit` applied to a copy. */
function variant(name: string, edit: (b: Buffer) => Buffer): string {
  const base = path.join(tmp, 'base.gguf');
  if (!fs.existsSync(base)) {
    writeGguf(base, new Map<string, GgufValue>([['general.architecture', { type: 'string', value: 'mamba' }]]),
      [{ name: 't', shape: [2, 32], data: new Float32Array(64), type: 'F32' }]);
  }
  const file = path.join(tmp, name);
  fs.writeFileSync(file, edit(fs.readFileSync(base)));
  return file;
}

// base.gguf layout: magic 0 | version 4 | n_tensors 8 | n_kv 16 | key len 24 | "general.architecture" 32
// | type 52 | value len 56 | "mamba" 64 | name len 69 | "t" 77 | n_dims 78 | ne 82, 90 | type 98 | offset 102
test('bad GGUF files fail with one line each', () => {
  const at = (write: (b: Buffer) => void) => (b: Buffer) => {
    write(b);
    return b;
  };
  throwsUser(() => readGguf(variant('trunc.gguf', (b) => b.subarray(0, 60))), 'truncated');
  throwsUser(() => readGguf(variant('trunc-data.gguf', (b) => b.subarray(0, b.length - 4))), 'tensor "t"', 'runs past the end');
  throwsUser(() => readGguf(variant('magic.gguf', (b) => { b.write('GGML', 0, 'latin1'); return b; })), 'not a GGUF file', 'GGML');
  throwsUser(() => readGguf(variant('version.gguf', at((b) => b.writeUInt32LE(4, 4)))), 'GGUF version 4');
  throwsUser(() => readGguf(variant('bigendian.gguf', at((b) => b.writeUInt32BE(3, 4)))), 'big-endian');
  throwsUser(() => readGguf(variant('ntensors.gguf', at((b) => b.writeBigUInt64LE(1n << 40n, 8)))), 'tensor count', 'absurd');
  throwsUser(() => readGguf(variant('nkv.gguf', at((b) => b.writeBigUInt64LE(1n << 60n, 16)))), 'metadata count', 'absurd');
  throwsUser(() => readGguf(variant('keylen.gguf', at((b) => b.writeBigUInt64LE(1n << 50n, 24)))), 'length of metadata key 0', 'absurd');
  throwsUser(() => readGguf(variant('vtype.gguf', at((b) => b.writeUInt32LE(13, 52)))), 'unknown value type 13');
  throwsUser(() => readGguf(variant('offset.gguf', at((b) => b.writeBigUInt64LE(64n, 102)))), 'tensor "t"', 'runs past the end');
  throwsUser(() => readGguf(variant('misaligned.gguf', at((b) => b.writeBigUInt64LE(4n, 102)))), 'not a multiple of the alignment 32');
  throwsUser(() => readGguf(variant('q4k.gguf', at((b) => b.writeUInt32LE(12, 98)))), 'ggml type Q4_K, which is not supported');
  throwsUser(() => readGguf(variant('gtype.gguf', at((b) => b.writeUInt32LE(77, 98)))), 'unknown ggml type 77');
  throwsUser(() => readGguf(variant('ndims.gguf', at((b) => b.writeUInt32LE(5, 78)))), '5 dimensions');
  throwsUser(() => readGguf(variant('ne.gguf', at((b) => b.writeBigUInt64LE(1n << 40n, 82)))), 'dimension 0 of "t"', 'absurd');
  throwsUser(() => readGguf(variant('big.gguf', at((b) => b.writeBigUInt64LE(64n, 82)))), 'runs past the end');
  // the same key twice: the count says 2 and the one pair is repeated before the tensor infos
  const dup = variant('dup.gguf', (b) => {
    const kv = b.subarray(24, 69);
    const out = Buffer.concat([b.subarray(0, 69), kv, b.subarray(69)]);
    out.writeBigUInt64LE(2n, 16);
    return out;
  });
  throwsUser(() => readGguf(dup), 'metadata key "general.architecture" appears twice');
  throwsUser(() => readGgufModel(variant('arch.gguf', (b) => { b.write('llama', 64, 'latin1'); return b; })), 'architecture "llama" is not supported');
  throwsUser(() => readGgufModel(path.join(tmp, 'missing.gguf')), 'file not found');
});

test('a GGUF whose metadata disagrees with its tensors fails before reading them', () => {
  const fixture = readGguf(path.join(FIXTURES, 'gguf', 'mamba1-tiny.gguf'));
  const rewrite = (name: string, key: string, value: GgufValue) => {
    const meta = new Map(fixture.header.metadata);
    meta.set(key, value);
    const file = path.join(tmp, name);
    writeGguf(file, meta, fixture.header.tensors.map((t) => ({ name: t.name, shape: [...t.ne].reverse(), data: fixture.tensors.get(t.name)!.data as Float32Array, type: 'F32' })));
    return file;
  };
  throwsUser(() => readGgufModel(rewrite('layers.gguf', 'mamba.block_count', { type: 'u32', value: 1e9 })), 'block_count" 1000000000 is beyond the limit');
  throwsUser(() => readGgufModel(rewrite('layers3.gguf', 'mamba.block_count', { type: 'u32', value: 3 })), 'tensor "blk.2.attn_norm.weight" is missing');
  throwsUser(() => readGgufModel(rewrite('inner.gguf', 'mamba.ssm.inner_size', { type: 'u32', value: 64 })), 'tensor "blk.0.ssm_in.weight" has ne [64,256], expected [64,128]');
  throwsUser(() => readGgufModel(rewrite('eps.gguf', 'mamba.attention.layer_norm_rms_epsilon', { type: 'u32', value: 1 })), 'must be a positive float, got u32 1');
  throwsUser(() => readGgufModel(rewrite('falcon.gguf', 'mamba.ssm.dt_b_c_rms', { type: 'bool', value: true })), 'FalconMamba');
  throwsUser(() => readGgufModel(rewrite('tokens.gguf', 'tokenizer.ggml.tokens', { type: 'array', itemType: 'string', items: [{ type: 'string', value: 'a' }] })), 'has 1 tokens but token_embd.weight has 300 rows');
});

test('models llama.cpp cannot run are refused by name', () => {
  const src = readCheckpoint(path.join(FIXTURES, 'hf', 'mamba1-tiny'));
  const file = path.join(tmp, 'refused.gguf');
  const m = src.config.layers[0].mixer;
  const expand3 = { ...src.config, layers: src.config.layers.map(() => ({ mixer: { ...m, dInner: 192, expand: 3 } })) };
  throwsUser(() => writeGgufModel(file, expand3, src.weights, { type: 'f32', name: 'x' }), 'llama.cpp cannot run this model', 'expand 2');
  const biased = { ...src.config, layers: src.config.layers.map(() => ({ mixer: { ...m, bias: true } })) };
  throwsUser(() => writeGgufModel(file, biased, src.weights, { type: 'f32', name: 'x' }), 'biases');
  const hybrid = readCheckpoint(path.join(FIXTURES, 'mamba_ssm', 'ms-hybrid'));
  throwsUser(() => writeGgufModel(file, hybrid.config, hybrid.weights, { type: 'f32', name: 'x' }), /MLP|attention/);
  assert.ok(!fs.existsSync(file));
});
