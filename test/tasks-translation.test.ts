import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { countClause, dateClause, distanceClause, reportClause, translationSplits, writeTranslationSplits } from '../src/tasks/translation/index.js';
import { readParallel } from '../src/train/data/parallel.js';
import { tempDir } from './cli-util.js';

const SMALL = {
  seed: 7,
  train: { size: 300, minClauses: 1, maxClauses: 2 },
  valid: { size: 50, minClauses: 1, maxClauses: 2 },
  test: { size: 50, minClauses: 3, maxClauses: 5 },
  namesPerSplit: 40,
};

test('translation clauses: German number words, dates, decimal commas, verb-final order', () => {
  assert.deepEqual(countClause('Anna', 21, 0), { en: 'Anna has twenty-one apples', de: 'Anna hat einundzwanzig Äpfel' });
  assert.deepEqual(countClause('Anna', 345, 1), { en: 'Anna has three hundred forty-five books', de: 'Anna hat dreihundertfünfundvierzig Bücher' });
  assert.deepEqual(dateClause('Bo', new Date(Date.UTC(2021, 2, 5))), { en: 'Bo was born on March 5, 2021', de: 'Bo wurde am 5. März 2021 geboren' });
  assert.deepEqual(distanceClause('Bo', 12.5), { en: 'Bo walks 12.5 kilometers', de: 'Bo läuft 12,5 Kilometer' });
  assert.deepEqual(reportClause('Bo', 'Anna', 3), { en: 'Bo says that Anna reads', de: 'Bo sagt, dass Anna liest' });
});

test('translation task: deterministic, names disjoint across splits, clause counts as asked', () => {
  const a = translationSplits(SMALL);
  assert.deepEqual(translationSplits(SMALL), a);
  assert.notDeepEqual(translationSplits({ ...SMALL, seed: 8 }).train, a.train);
  // a split's stream is its own: resizing test leaves train as it was
  assert.deepEqual(translationSplits({ ...SMALL, test: { ...SMALL.test, size: 5 } }).train, a.train);
  const names = (s: 'train' | 'valid' | 'test') => new Set(a[s].flatMap((e) => e.names));
  const train = names('train');
  for (const s of ['valid', 'test'] as const) for (const n of names(s)) assert.ok(!train.has(n), `${s} name ${n} is in train`);
  for (const n of names('valid')) assert.ok(!names('test').has(n));
  for (const e of a.test) {
    const clauses = e.en.split(' and ').length;
    assert.ok(clauses >= 3 && clauses <= 5, e.en);
    assert.equal(e.de.split(' und ').length, clauses);
    for (const n of e.names) assert.ok(e.en.includes(n) && e.de.includes(n));
  }
  for (const e of a.train) assert.ok(e.en.split(' and ').length <= 2);
});

test('translation task: written as TSV that the parallel reader reads back', () => {
  const dir = tempDir();
  const files = writeTranslationSplits(path.join(dir, 'mt'), SMALL);
  assert.deepEqual(files.map((f) => path.basename(f)), ['train.tsv', 'valid.tsv', 'test.tsv']);
  const back = [...readParallel(files[2])];
  const want = translationSplits(SMALL).test;
  assert.deepEqual(back, want.map((e) => ({ src: e.en, tgt: e.de })));
  assert.ok(fs.statSync(files[0]).size > 0);
});
