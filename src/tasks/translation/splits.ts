/**
 * The generated English → German task: sentences of 1 to N clauses joined by "and"/"und", about
 * invented people. Splits draw their names from disjoint pools, so every name in valid and test
 * is unseen in training; test sentences may hold more clauses than training ones (length
 * extrapolation: train short, test long). Everything follows from the seed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../errors.js';
import { Mulberry32 } from '../../rng.js';
import { randomClause } from './clauses.js';
import { namePool } from './names.js';

export interface TranslationExample {
  en: string;
  de: string;
  /** the names in the sentence (copied verbatim into the translation) */
  names: string[];
}

export interface SplitSpec {
  size: number;
  minClauses: number;
  maxClauses: number;
}

export interface TranslationTaskOptions {
  seed: number;
  train: SplitSpec;
  valid: SplitSpec;
  test: SplitSpec;
  /** distinct names per split */
  namesPerSplit: number;
}

export const DEFAULT_TRANSLATION_TASK: TranslationTaskOptions = {
  seed: 1,
  train: { size: 20000, minClauses: 1, maxClauses: 2 },
  valid: { size: 500, minClauses: 1, maxClauses: 2 },
  test: { size: 500, minClauses: 1, maxClauses: 6 },
  namesPerSplit: 300,
};

export type SplitName = 'train' | 'valid' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'valid', 'test'];

function sentence(rng: Mulberry32, pool: readonly string[], spec: SplitSpec): TranslationExample {
  const used: string[] = [];
  const pick = () => {
    const n = pool[rng.int(pool.length)];
    if (!used.includes(n)) used.push(n);
    return n;
  };
  const clauses = Array.from({ length: spec.minClauses + rng.int(spec.maxClauses - spec.minClauses + 1) }, () => randomClause(rng, pick));
  return { en: `${clauses.map((c) => c.en).join(' and ')}.`, de: `${clauses.map((c) => c.de).join(' und ')}.`, names: used };
}

function check(o: TranslationTaskOptions): void {
  for (const s of SPLITS) {
    const { size, minClauses, maxClauses } = o[s];
    if (!Number.isSafeInteger(size) || size < 0) throw new UserError(`translation task: ${s} size must be an integer >= 0, got ${size}`);
    if (!Number.isSafeInteger(minClauses) || minClauses < 1 || !Number.isSafeInteger(maxClauses) || maxClauses < minClauses) {
      throw new UserError(`translation task: ${s} clauses must be integers with 1 <= min <= max, got ${minClauses}..${maxClauses}`);
    }
  }
  if (!Number.isSafeInteger(o.namesPerSplit) || o.namesPerSplit < 2) throw new UserError(`translation task: names per split must be an integer >= 2, got ${o.namesPerSplit}`);
}

/** The three splits. Each split has its own random stream, so changing one's size leaves the others as they were. */
export function translationSplits(options: TranslationTaskOptions = DEFAULT_TRANSLATION_TASK): Record<SplitName, TranslationExample[]> {
  check(options);
  const pools = namePool(new Mulberry32(options.seed), 3 * options.namesPerSplit);
  const out = {} as Record<SplitName, TranslationExample[]>;
  SPLITS.forEach((s, k) => {
    const pool = pools.slice(k * options.namesPerSplit, (k + 1) * options.namesPerSplit);
    const rng = new Mulberry32((options.seed * 4 + k + 1) >>> 0);
    out[s] = Array.from({ length: options[s].size }, () => sentence(rng, pool, options[s]));
  });
  return out;
}

/** Writes DIR/{train,valid,test}.tsv (`en<TAB>de`, the format `--data` reads). Returns the paths. */
export function writeTranslationSplits(dir: string, options: TranslationTaskOptions = DEFAULT_TRANSLATION_TASK): string[] {
  const splits = translationSplits(options);
  fs.mkdirSync(dir, { recursive: true });
  return SPLITS.map((s) => {
    const file = path.join(dir, `${s}.tsv`);
    fs.writeFileSync(file, splits[s].map((e) => `${e.en}\t${e.de}\n`).join(''));
    return file;
  });
}
