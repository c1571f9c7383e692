/**
 * Parallel (source, target) data for translation, read as a stream (one pass, memory flat in the
 * file size). One `--data` spec names one of three formats:
 *
 * - `FILE.tsv` (or any other name): one pair a line, `source<TAB>target`, exactly one tab;
 * - `FILE.jsonl`: one JSON object a line with string fields `src` and `tgt`;
 * - `SRC_FILE,TGT_FILE`: Moses-style aligned files (e.g. `train.en,train.de`), line i of each.
 *
 * Every problem is a UserError naming the file and line. Empty lines are skipped in TSV and JSONL
 * (a trailing blank line is common); in a Moses pair they are pairs like any other, since skipping
 * one side's line would misalign everything after it.
 */
import { UserError } from '../../errors.js';
import { readLines } from './lines.js';

export interface Pair {
  src: string;
  tgt: string;
}

export type ParallelFormat = 'tsv' | 'jsonl' | 'moses';

export function parallelFormat(spec: string): ParallelFormat {
  if (spec.includes(',')) return 'moses';
  return spec.endsWith('.jsonl') ? 'jsonl' : 'tsv';
}

export function* readParallel(spec: string): Generator<Pair> {
  switch (parallelFormat(spec)) {
    case 'moses': {
      const files = spec.split(',');
      if (files.length !== 2 || files.some((f) => f === '')) {
        throw new UserError(`--data ${spec}: a Moses pair is two files, SOURCE,TARGET (e.g. train.en,train.de)`);
      }
      yield* readMoses(files[0], files[1]);
      return;
    }
    case 'jsonl':
      yield* readJsonl(spec);
      return;
    case 'tsv':
      yield* readTsv(spec);
  }
}

function* readTsv(file: string): Generator<Pair> {
  for (const { line, lineNo } of readLines(file)) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    if (tab < 0 || line.indexOf('\t', tab + 1) >= 0) {
      throw new UserError(`${file}:${lineNo}: expected source<TAB>target (exactly one tab), found ${tab < 0 ? 'no tab' : 'more than one'}`);
    }
    yield { src: line.slice(0, tab), tgt: line.slice(tab + 1) };
  }
}

function* readJsonl(file: string): Generator<Pair> {
  for (const { line, lineNo } of readLines(file)) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new UserError(`${file}:${lineNo}: not valid JSON (${(e as Error).message})`);
    }
    const o = v as { src?: unknown; tgt?: unknown };
    if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof o.src !== 'string' || typeof o.tgt !== 'string') {
      throw new UserError(`${file}:${lineNo}: expected an object with string fields "src" and "tgt"`);
    }
    yield { src: o.src, tgt: o.tgt };
  }
}

function* readMoses(srcFile: string, tgtFile: string): Generator<Pair> {
  const t = readLines(tgtFile);
  let n = 0;
  for (const s of readLines(srcFile)) {
    const next = t.next();
    if (next.done) throw new UserError(`${tgtFile}: has ${n} lines, ${srcFile} has more (line ${s.lineNo})`);
    n++;
    yield { src: s.line, tgt: next.value.line };
  }
  if (!t.next().done) throw new UserError(`${srcFile}: has ${n} lines, ${tgtFile} has more`);
}

/**
 * Paragraph-level data as in Pitorro et al. (2024, §4.3, "CAT-N"): disjoint runs of `n`
 * consecutive pairs, each side joined with a space. A last run shorter than `n` is kept. A
 * `boundary` (e.g. a new chapter) ends a run early, so that no paragraph spans two documents.
 */
export function* concatenatePairs(pairs: Iterable<Pair>, n: number, boundary?: (p: Pair, index: number) => boolean): Generator<Pair> {
  if (!Number.isSafeInteger(n) || n < 1) throw new UserError(`concatenation: N must be an integer >= 1, got ${n}`);
  let run: Pair[] = [];
  const flush = (): Pair => ({ src: run.map((p) => p.src).join(' '), tgt: run.map((p) => p.tgt).join(' ') });
  let i = 0;
  for (const p of pairs) {
    if (run.length > 0 && (run.length === n || boundary?.(p, i))) {
      yield flush();
      run = [];
    }
    run.push(p);
    i++;
  }
  if (run.length > 0) yield flush();
}

/**
 * Indices of `lengths` grouped into batches of similar length (less padding): sorted by length,
 * cut into runs of at most `batchSize`, whose order the caller shuffles. The sort is stable, so the
 * grouping is deterministic.
 */
export function lengthBuckets(lengths: readonly number[], batchSize: number): number[][] {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new UserError(`bucketing: batch size must be an integer >= 1, got ${batchSize}`);
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b]);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}
