import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  bleuByLength, bleuTokens, capitalizedEntities, copyableEntities, corpusBleu, corpusChrf, entityRecall, scoreJson,
  scoreLine, sentenceBleu, sentenceChrf, tokenize13a, trainingCounts,
} from '../src/metrics/index.js';
import { pyFixed, pySplit } from '../src/metrics/python-text.js';
import { cli, FIXTURES, tempDir } from './cli-util.js';

interface Cases {
  hyps: string[];
  refs: string[];
  corpus_bleu: number;
  bleu_signature: string;
  corpus_chrf: number;
  'corpus_chrf++': number;
  sentences: { hyp: string; ref: string; bleu: number; chrf: number }[];
}
const cases = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'metrics/sacrebleu-cases.json'), 'utf8')) as Cases;
// sacreBLEU's own float operations, in the same order: only exp/log of the two runtimes may differ
const EXACT = 1e-12;

test('corpus BLEU, chrF2 and chrF2++ match sacreBLEU 2.6.0', () => {
  const bleu = corpusBleu(cases.hyps, cases.refs);
  assert.ok(Math.abs(bleu.score - cases.corpus_bleu) < EXACT, `BLEU ${bleu.score} vs ${cases.corpus_bleu}`);
  // sacreBLEU's str(score) is "BLEU = SCORE VERBOSE": the same line without the signature
  assert.equal(`BLEU = ${scoreLine(bleu).split(' = ').slice(1).join(' = ')}`, cases.bleu_signature);
  assert.equal(bleu.signature, 'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0');
  const chrf = corpusChrf(cases.hyps, cases.refs, { wordOrder: 0 });
  const chrfpp = corpusChrf(cases.hyps, cases.refs, { wordOrder: 2 });
  assert.ok(Math.abs(chrf.score - cases.corpus_chrf) < EXACT, `chrF ${chrf.score} vs ${cases.corpus_chrf}`);
  assert.ok(Math.abs(chrfpp.score - cases['corpus_chrf++']) < EXACT, `chrF++ ${chrfpp.score} vs ${cases['corpus_chrf++']}`);
  assert.equal(scoreLine(chrf), 'chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0 = 65.75');
  assert.equal(scoreLine(chrfpp), 'chrF2++|nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0 = 65.89');
  assert.deepEqual(scoreJson(chrfpp), {
    name: 'chrF2++', score: 65.89, signature: 'nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0',
    nrefs: '1', case: 'mixed', eff: 'yes', nc: '6', nw: '2', space: 'no', version: '2.6.0',
  });
});

test('sentence BLEU (effective order) and sentence chrF2 match sacreBLEU 2.6.0', () => {
  for (const s of cases.sentences) {
    assert.ok(Math.abs(sentenceBleu(s.hyp, s.ref).score - s.bleu) < EXACT, `BLEU of "${s.hyp}"`);
    assert.ok(Math.abs(sentenceChrf(s.hyp, s.ref, { wordOrder: 0 }).score - s.chrf) < EXACT, `chrF of "${s.hyp}"`);
  }
});

test('13a: mteval-v13a tokenization by its rules', () => {
  // symbols split; period and comma split except between digits; a dash after a digit split
  assert.equal(tokenize13a('Hello, world! It costs $3.50 (approx.) for 1,000-2 items.'),
    'Hello , world ! It costs $ 3.50 ( approx . ) for 1,000 - 2 items .');
  // apostrophes and hyphens between letters stay; SGML entities and <skipped> are undone first
  assert.equal(tokenize13a("don't re-enter &quot;A&amp;B&quot; &lt;x&gt;<skipped>"), 'don\'t re-enter " A & B " < x >');
  assert.equal(tokenize13a('hyphen-\nated\nline'), 'hyphenated line');
  // Python's whitespace, not JavaScript's: U+001C separates, U+FEFF does not
  assert.deepEqual(pySplit('a\x1cb\u3000c'), ['a', 'b', 'c']);
  assert.deepEqual(pySplit('a\ufeffb'), ['a\ufeffb']);
  assert.deepEqual(bleuTokens('  Grüße,  Köln 🙂.  '), ['Grüße', ',', 'Köln', '🙂', '.']);
});

test('BLEU: brevity penalty, exp smoothing, effective order, empty hypotheses', () => {
  // all precisions 100, BP exp(1 - 5/4)
  assert.ok(Math.abs(corpusBleu(['a b c d'], ['a b c d e']).score - 100 * Math.exp(-0.25)) < EXACT);
  // 4-gram matches 0 of 1: smoothed to 100 / (2 * 1)
  const s = corpusBleu(['a b c x'], ['a b c d']);
  assert.deepEqual(s.precisions, [75, 200 / 3, 50, 50]);
  assert.ok(Math.abs(s.score - Math.exp((Math.log(75) + Math.log(200 / 3) + Math.log(50) + Math.log(50)) / 4)) < EXACT);
  // two tokens have no 3-grams: 0 at corpus level, 100 with effective order
  assert.equal(corpusBleu(['a b'], ['a b']).score, 0);
  assert.ok(Math.abs(sentenceBleu('a b', 'a b').score - 100) < EXACT);
  const empty = corpusBleu(['', ''], ['a b', 'c']);
  assert.equal(empty.score, 0);
  assert.equal(empty.verbose, '0.0/0.0/0.0/0.0 (BP = 0.000 ratio = 0.000 hyp_len = 0 ref_len = 3)');
  assert.equal(corpusBleu([], []).score, 0);
  assert.equal(sentenceChrf('', 'a', { wordOrder: 2 }).score, 0);
});

test('chrF: code points, whitespace ignored, punctuation split for word n-grams', () => {
  assert.equal(sentenceChrf('日本語 🙂', '日本語🙂', { wordOrder: 0 }).score, 100);
  // word n-grams differ ("日本語 🙂" is two words, "日本語🙂" one): chrF++ below 100
  const pp = sentenceChrf('日本語 🙂', '日本語🙂', { wordOrder: 2 }).score;
  // four characters: orders 1-4 perfect, 5-6 absent; word unigrams 0 matched (P = R = 0); no
  // reference bigram, so that order is absent too: P = R = 4/5, F2 = 5PR / (4P + R) = 0.8
  assert.ok(Math.abs(pp - 80) < EXACT, `chrF++ ${pp}`);
  // "end." splits into "end" "." for word n-grams: identical word statistics
  assert.equal(sentenceChrf('the end.', 'the end .', { wordOrder: 2 }).score, 100);
});

test('Python number formatting: ties to even', () => {
  assert.equal(pyFixed(0.125, 2), '0.12');
  assert.equal(pyFixed(0.375, 2), '0.38');
  assert.equal(pyFixed(2.5, 0), '2');
  assert.equal(pyFixed(1.005, 2), '1.00');
  assert.equal(pyFixed(46.52032533907016, 2), '46.52');
  assert.equal(pyFixed(-0.125, 2), '-0.12');
});

test('BLEU by source length: half-open bins, last open-ended', () => {
  const srcs = ['one', 'one two three', 'a b c d e f'];
  const bins = bleuByLength(srcs, ['x', 'a b', 'c d'], ['x', 'a b', 'c e'], [0, 2, 6]);
  assert.deepEqual(bins.map((b) => [b.label, b.segments]), [['0-2', 1], ['2-6', 1], ['6+', 1]]);
  assert.equal(bins[0].bleu?.score, 0);
  assert.equal(bins[1].bleu?.hypLen, 2);
});

test('named-entity recall: copyable entities, hits, unseen/rare/frequent buckets', () => {
  const find = capitalizedEntities;
  assert.deepEqual(find('Then Anna Berg met Oskar, in Köln.'), ['Then Anna Berg', 'Oskar', 'Köln']);
  assert.deepEqual(copyableEntities('Anna und Oskar in Köln', 'Anna and Oskar met in Köln.', find), ['Anna', 'Oskar', 'Köln']);
  const train = [
    ...Array.from({ length: 16 }, () => ({ src: 'Anna schläft', tgt: 'Anna sleeps' })),
    { src: 'Oskar isst', tgt: 'Oskar eats' },
  ];
  const counts = trainingCounts(train, new Set(['Anna', 'Oskar', 'Köln']), find);
  assert.deepEqual([...counts], [['Anna', 16], ['Oskar', 1]]);
  const r = entityRecall(['Anna and Oskar', 'Anna went to Koln'], [['Anna', 'Oskar'], ['Anna', 'Köln']], counts);
  assert.deepEqual(r.buckets.map((b) => [b.name, b.entities, b.recall]), [['unseen', 1, 0], ['rare', 1, 1], ['frequent', 1, 1]]);
  assert.equal(r.overall, 3 / 4);
});

test('mamba-ts score: sacreBLEU lines and JSON; misaligned files are one clear error', () => {
  const dir = tempDir();
  const hyp = path.join(dir, 'hyp.txt'), ref = path.join(dir, 'ref.txt');
  fs.writeFileSync(hyp, `${cases.hyps.join('\n')}\n`);
  fs.writeFileSync(ref, `${cases.refs.join('\r\n')}`);
  const r = cli('score', '--hyp', hyp, '--ref', ref);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n')[0], `BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = ${cases.bleu_signature.slice('BLEU = '.length)}`);
  const j = cli('score', '--hyp', hyp, '--ref', ref, '--json');
  const scores = (JSON.parse(j.stdout) as { scores: { name: string; score: number }[] }).scores;
  assert.deepEqual(scores.map((s) => [s.name, s.score]), [['BLEU', 46.52], ['chrF2', 65.75], ['chrF2++', 65.89]]);
  fs.appendFileSync(hyp, 'one more\n');
  const bad = cli('score', '--hyp', hyp, '--ref', ref);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, `mamba-ts: --hyp ${hyp} has 7 lines but --ref ${ref} has 6: the files must be aligned line by line\n`);
});
