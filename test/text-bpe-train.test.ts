import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bpeTokenizerJson, byteSymbols, trainByteBpe } from '../src/text/bpe-train.js';
import { HfTokenizer } from '../src/text/hf.js';
import { cli, tempDir } from './cli-util.js';

test('BPE training: merges by pair frequency over pre-tokenized words, min frequency respected', () => {
  // words: "ab" 1, " ab" 2, "abc" 1 → (a,b) 4 first; then (Ġ,ab) 2; (ab,c) 1 is below 2
  const bpe = trainByteBpe(['ab ab ab', 'abc'], { vocabSize: 300 });
  assert.deepEqual(bpe.merges, [['a', 'b'], ['Ġ', 'ab']]);
  assert.equal(bpe.vocab.size, 4 + 256 + 2);
  assert.deepEqual([0, 1, 2, 3].map((i) => [...bpe.vocab].find(([, id]) => id === i)?.[0]), ['<pad>', '<eos>', '<sep>', '<bos>']);
  assert.equal(bpe.vocab.get('Ġab'), 261);
  // the vocabulary size caps the merges
  assert.deepEqual(trainByteBpe(['ab ab ab', 'abc'], { vocabSize: 261 }).merges, [['a', 'b']]);
});

test('BPE training: GPT-2 byte symbols', () => {
  const s = byteSymbols();
  assert.equal(s[32], 'Ġ');
  assert.equal(s[10], 'Ċ');
  assert.equal(s[65], 'A');
  assert.equal(new Set(s).size, 256);
});

test('tokenizer train: a tokenizer.json the project loads, exact round trips, special ids', () => {
  const dir = tempDir();
  const data = path.join(dir, 'train.tsv');
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) lines.push(`the number ${i} is here, Grüße aus Köln\tdie Zahl ${i} ist hier, 日本語 🙂`);
  fs.writeFileSync(data, `${lines.join('\n')}\n`);
  const out = path.join(dir, 'tokenizer.json');
  const r = cli('tokenizer', 'train', '--data', data, '--vocab-size', '400', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  const tok = HfTokenizer.fromFile(out);
  assert.equal(tok.vocabSize, 400);
  for (const text of ['the number 7 is here', 'Grüße aus Köln! 日本語🙂 ', '  two  spaces\tand\ttabs\n', 'unseen: Ωμέγα ߷ 𝄞 é']) {
    assert.equal(tok.decode(tok.encode(text)), text);
  }
  // frequent words are single tokens; special tokens keep their ids
  assert.equal(tok.encode(' number').length, 1);
  assert.deepEqual(tok.encode('<pad><eos><sep><bos>'), [0, 1, 2, 3]);
  const json = bpeTokenizerJson(trainByteBpe(['x'], { vocabSize: 260 }));
  assert.deepEqual((json.added_tokens as { id: number; content: string }[]).map((t) => [t.id, t.content]), [[0, '<pad>'], [1, '<eos>'], [2, '<sep>'], [3, '<bos>']]);
});

test('tokenizer train: bad input is one clear error', () => {
  const dir = tempDir();
  const data = path.join(dir, 'bad.tsv');
  fs.writeFileSync(data, 'one\ttwo\nno tab here\n');
  const r = cli('tokenizer', 'train', '--data', data, '--out', path.join(dir, 't.json'));
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `mamba-ts: ${data}:2: expected source<TAB>target (exactly one tab), found no tab\n`);
  const small = cli('tokenizer', 'train', '--data', data, '--vocab-size', '100', '--out', path.join(dir, 't.json'));
  assert.equal(small.code, 2);
  assert.match(small.stderr, /--vocab-size: 100 is out of range/);
});
