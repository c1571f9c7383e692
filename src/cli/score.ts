/**
 * `mamba-ts score`: translation quality of a hypothesis file against a reference file, one
 * segment a line. Corpus BLEU, chrF2 and chrF2++ as sacreBLEU 2.6.0 prints them (same numbers,
 * signatures and lines; lines are read as its CLI reads them: split at \n, trailing whitespace
 * removed). With --src: BLEU per source-length bin and named-entity recall; with --train as well,
 * recall per training-frequency bucket.
 */
import { UserError } from '../errors.js';
import {
  bleuByLength, capitalizedEntities, copyableEntities, corpusBleu, corpusChrf, DEFAULT_LENGTH_EDGES, entityRecall,
  scoreJson, scoreLine, sentenceBleu, trainingCounts, type EntityRecall, type LengthBin,
} from '../metrics/index.js';
import { pyRstrip } from '../metrics/python-text.js';
import { readLines } from '../train/data/lines.js';
import { readParallel } from '../train/data/parallel.js';
import { parseFlags } from './flags.js';

const FLAGS = {
  hyp: { kind: 'string', value: 'FILE', required: true, help: 'system output, one segment a line' },
  ref: { kind: 'string', value: 'FILE', required: true, help: 'reference translations, aligned with --hyp' },
  src: { kind: 'string', value: 'FILE', help: 'the sources, aligned: adds BLEU per source-length bin and named-entity recall' },
  train: { kind: 'string', value: 'DATA', help: 'training pairs (TSV, JSONL or SRC,TGT files): buckets entity recall by training frequency (needs --src)' },
  bins: { kind: 'string', value: 'EDGES', default: DEFAULT_LENGTH_EDGES.join(','), help: 'source-length bin edges in 13a tokens, ascending from 0; the last bin is open-ended' },
  sentence: { kind: 'bool', help: 'sentence BLEU of each line instead (sacreBLEU sentence_bleu: effective order)' },
  json: { kind: 'bool', help: 'print one JSON object (sacreBLEU\'s JSON per metric, plus bins and recall)' },
} as const;

export async function runScore(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts score --hyp FILE --ref FILE [--src FILE [--train DATA]] [--json]',
    summary: 'Corpus BLEU, chrF2 and chrF2++ exactly as sacreBLEU 2.6.0 computes them by default; optionally BLEU by source length and named-entity recall.',
    notes: [
      'Length bins: a segment\'s length is its source\'s number of 13a tokens; bins [a, b) from --bins.',
      'Entity recall (Pitorro et al. 2024): entities of the reference (runs of capitalized words) that occur verbatim in the',
      'source; a hit when the hypothesis contains them; buckets by training pairs holding the entity: unseen 0, rare 1-15, frequent 16+.',
      'COMET is not provided: its model (2.3 GB) is not reachable from here.',
    ].join('\n'),
  });
  if (!flags) return 0;
  const hyps = readSegments(flags.hyp);
  const refs = readSegments(flags.ref);
  sameLength('--hyp', flags.hyp, hyps, '--ref', flags.ref, refs);
  if (flags.train !== undefined && flags.src === undefined) throw new UserError('--train needs --src (entity recall compares sources and references)');
  const edges = parseEdges(flags.bins);

  if (flags.sentence) {
    const lines = hyps.map((h, i) => sentenceBleu(h, refs[i]));
    process.stdout.write(flags.json
      ? `${JSON.stringify(lines.map((s) => scoreJson(s)))}\n`
      : lines.map((s) => `${scoreLine(s)}\n`).join(''));
    return 0;
  }
  const scores = [corpusBleu(hyps, refs), corpusChrf(hyps, refs, { wordOrder: 0 }), corpusChrf(hyps, refs, { wordOrder: 2 })];
  let bins: LengthBin[] | undefined;
  let recall: EntityRecall | undefined;
  if (flags.src !== undefined) {
    const srcs = readSegments(flags.src);
    sameLength('--src', flags.src, srcs, '--ref', flags.ref, refs);
    bins = bleuByLength(srcs, hyps, refs, edges);
    const entities = srcs.map((s, i) => copyableEntities(s, refs[i], capitalizedEntities));
    const counts = flags.train === undefined ? new Map<string, number>()
      : trainingCounts(readParallel(flags.train), new Set(entities.flat()), capitalizedEntities);
    recall = entityRecall(hyps, entities, counts);
  }

  if (flags.json) {
    process.stdout.write(`${JSON.stringify({
      scores: scores.map((s) => scoreJson(s)),
      ...(bins ? { lengthBins: bins.map((b) => ({ bin: b.label, segments: b.segments, bleu: b.bleu?.score ?? null })) } : {}),
      ...(recall ? { entityRecall: { ...recall, trainCounts: flags.train !== undefined } } : {}),
    })}\n`);
    return 0;
  }
  const out = scores.map((s) => scoreLine(s));
  if (bins) {
    out.push('', 'BLEU by source length (13a tokens):');
    for (const b of bins) out.push(`  ${b.label.padEnd(9)} ${String(b.segments).padStart(6)} segments  ${b.bleu ? `BLEU = ${b.bleu.score.toFixed(2)}` : '-'}`);
  }
  if (recall) {
    out.push('', `named-entity recall: ${recall.overall === undefined ? '- (no reference entity occurs in its source)' : `${(100 * recall.overall).toFixed(1)}% of ${recall.occurrences}`}`);
    if (flags.train !== undefined) {
      for (const b of recall.buckets) {
        out.push(`  ${b.name.padEnd(9)} ${String(b.entities).padStart(6)} entities  ${b.recall === undefined ? '-' : `${(100 * b.recall).toFixed(1)}%`}`);
      }
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

function readSegments(file: string): string[] {
  return Array.from(readLines(file), (l) => pyRstrip(l.line));
}

function sameLength(aFlag: string, aFile: string, a: readonly string[], bFlag: string, bFile: string, b: readonly string[]): void {
  if (a.length !== b.length) {
    throw new UserError(`${aFlag} ${aFile} has ${a.length} lines but ${bFlag} ${bFile} has ${b.length}: the files must be aligned line by line`);
  }
}

function parseEdges(text: string): number[] {
  const edges = text.split(',').map((s) => s.trim());
  const nums = edges.map(Number);
  if (edges.some((s) => !/^\d+$/.test(s)) || nums[0] !== 0 || nums.some((v, i) => i > 0 && v <= nums[i - 1])) {
    throw new UserError(`--bins: "${text}" must be ascending integers starting at 0, e.g. ${DEFAULT_LENGTH_EDGES.join(',')}`);
  }
  return nums;
}
