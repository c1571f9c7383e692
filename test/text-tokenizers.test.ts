/**
 * Tokenizers: GPT-NeoX-20B's tokenizer.json against the ids and text of the Rust library
 * (cases.json), the byte-level fallback, streaming decode that never splits a character.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteTokenizer } from '../src/text/byte-level.js';
import { HfTokenizer } from '../src/text/hf.js';
import { loadTokenizer } from '../src/text/load.js';
import { TextStream } from '../src/text/stream.js';
import type { Tokenizer } from '../src/text/tokenizer.js';
import { FIXTURES } from './model-util.js';
import { tempDir } from './cli-util.js';

const NEOX = join(FIXTURES, 'tokenizers/gpt-neox-20b');
const cases = (JSON.parse(readFileSync(join(NEOX, 'cases.json'), 'utf8')) as { cases: { text: string; ids: number[]; decoded: string }[] }).cases;
const neox = loadTokenizer(NEOX);

test('gpt-neox-20b: ids and decoded text equal the Rust tokenizers library', () => {
  assert.ok(neox instanceof HfTokenizer);
  assert.equal(cases.length, 12);
  for (const c of cases) {
    assert.deepEqual(neox.encode(c.text), c.ids, JSON.stringify(c.text));
    assert.equal(neox.decode(c.ids), c.decoded, JSON.stringify(c.text));
  }
  // ids 0..50253 of the BPE model and added tokens up to id 50280
  assert.equal(neox.vocabSize, 50281);
  assert.equal(neox.eosId, undefined);
});

test('tokenizer.json: unknown ids decode to U+FFFD; eos_token from tokenizer_config.json', () => {
  assert.equal(neox.decode([8262, 60000, 849]), 'Hey\uFFFD how');
  const dir = tempDir();
  copyFileSync(join(NEOX, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>' }));
  assert.equal(loadTokenizer(dir).eosId, 0);
  writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
  assert.throws(() => loadTokenizer(dir), /tokenizer\.json: not valid JSON/);
});

test('a folder without tokenizer.json gets the byte-level tokenizer', () => {
  assert.ok(loadTokenizer(join(FIXTURES, 'hf/mamba1-tiny')) instanceof ByteTokenizer);
});

test('byte-level: UTF-8 bytes as ids; broken UTF-8 and ids above 255 decode to U+FFFD', () => {
  const b = new ByteTokenizer();
  assert.equal(b.vocabSize, 256);
  assert.deepEqual(b.encode('aé日😀'), [0x61, 0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0xf0, 0x9f, 0x98, 0x80]);
  assert.equal(b.decode(b.encode('naïve 日本語 😀\n')), 'naïve 日本語 😀\n');
  assert.equal(b.decode([0xff, 0x41]), '\uFFFDA');
  assert.equal(b.decode([0x41, 0xe6, 0x97]), 'A\uFFFD');
  assert.equal(b.decode([0x41, 300, 0x42]), 'A\uFFFDB');
  assert.equal(b.decode([]), '');
});

function streamPieces(tok: Tokenizer, ids: number[]): string[] {
  const s = new TextStream(tok);
  const pieces = ids.map((id) => s.push(id));
  pieces.push(s.flush());
  return pieces;
}

test('streaming decode: pieces join to the full text and never split a character', () => {
  for (const c of cases) {
    const pieces = streamPieces(neox, c.ids);
    assert.equal(pieces.join(''), c.decoded);
    for (const p of pieces) assert.ok(!p.includes('\uFFFD'), `${JSON.stringify(c.text)}: piece ${JSON.stringify(p)}`);
  }
  const b = new ByteTokenizer();
  const text = 'naïve 日本語 😀🚀!';
  const pieces = streamPieces(b, b.encode(text));
  assert.equal(pieces.join(''), text);
  assert.ok(pieces.every((p) => !p.includes('\uFFFD')));
  // 日 is three bytes: nothing until the third
  assert.deepEqual(streamPieces(b, [0xe6, 0x97, 0xa5, 0x41]), ['', '', '日', 'A', '']);
  // a character cut off at the end still comes out at flush
  assert.deepEqual(streamPieces(b, [0x41, 0xe6, 0x97]), ['A', '', '', '\uFFFD']);
});
