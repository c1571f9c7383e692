import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { concatenatePairs, lengthBuckets, readParallel } from '../src/train/data/parallel.js';
import { tempDir } from './cli-util.js';

test('parallel data: TSV, JSONL and Moses pairs read alike; errors name file and line', () => {
  const dir = tempDir();
  const f = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const want = [{ src: 'Hallo Welt', tgt: 'hello world' }, { src: 'zwei', tgt: '' }];
  assert.deepEqual([...readParallel(f('a.tsv', 'Hallo Welt\thello world\r\nzwei\t\n\n'))], want);
  assert.deepEqual([...readParallel(f('a.jsonl', '{"src":"Hallo Welt","tgt":"hello world"}\n{"tgt":"","src":"zwei"}'))], want);
  assert.deepEqual([...readParallel(`${f('a.de', 'Hallo Welt\nzwei\n')},${f('a.en', 'hello world\n\n')}`)], want);
  const err = (spec: string) => assert.throws(() => [...readParallel(spec)], { name: 'UserError' }) as unknown;
  err(f('b.tsv', 'a\tb\tc\n'));
  assert.throws(() => [...readParallel(f('c.jsonl', '{"src":"a","tgt":"b"}\n{"src":1,"tgt":"b"}\n'))],
    { message: `${path.join(dir, 'c.jsonl')}:2: expected an object with string fields "src" and "tgt"` });
  assert.throws(() => [...readParallel(`${f('d.de', 'a\nb\n')},${f('d.en', 'a\n')}`)], { message: /d\.en: has 1 lines, .*d\.de has more \(line 2\)/ });
  err(path.join(dir, 'missing.tsv'));
  assert.throws(() => [...readParallel('a.de,a.en,a.fr')], { message: /a Moses pair is two files/ });
  fs.writeFileSync(path.join(dir, 'bad.tsv'), Buffer.from([0x61, 0x09, 0x62, 0x0a, 0xff, 0x0a]));
  assert.throws(() => [...readParallel(path.join(dir, 'bad.tsv'))], { message: /bad\.tsv: not valid UTF-8/ });
  assert.deepEqual([...readParallel(f('empty.tsv', ''))], []);
});

test('parallel data: CAT-N paragraphs and length buckets', () => {
  const pairs = Array.from({ length: 7 }, (_, i) => ({ src: `s${i}`, tgt: `t${i}` }));
  assert.deepEqual([...concatenatePairs(pairs, 3)].map((p) => p.src), ['s0 s1 s2', 's3 s4 s5', 's6']);
  // a boundary before pair 2 and pair 5 (new chapters) ends runs early
  assert.deepEqual([...concatenatePairs(pairs, 3, (_, i) => i === 2 || i === 5)].map((p) => p.tgt), ['t0 t1', 't2 t3 t4', 't5 t6']);
  assert.deepEqual(lengthBuckets([5, 1, 3, 1, 9], 2), [[1, 3], [2, 0], [4]]);
});
