/**
 * Named-entity recall as Pitorro et al. (2024, §6) measure it (scripts/ar.py in deep-spin/ssm-mt):
 *
 * - the entities of a test pair are those of its reference that also occur verbatim (as a
 *   substring) in its source, so that copying them is the right translation;
 * - an occurrence is a hit when the entity occurs verbatim in the hypothesis;
 * - each entity gets its mean hit rate over its test occurrences, and the entities are bucketed by
 *   the number of training pairs whose (entity-in-source) entities include them: unseen (0),
 *   rare (1-15), frequent (16 and more); a bucket's recall is the mean over its entities.
 *
 * The paper finds entities with NLTK (`ne_chunk` PERSON/ORGANIZATION/GPE chunks and NNP tokens).
 * Without a tagger, `capitalizedEntities` stands in: maximal runs of capitalized words (a letter
 * of Unicode category Lu first), trailing punctuation cut off. The source filter removes most of
 * what that catches wrongly (sentence-initial words, German nouns) since those rarely appear
 * verbatim in the other language. Callers that know their entities (the generated tasks do) pass
 * them instead.
 */

export type EntityFinder = (reference: string) => string[];

const CAPITALIZED_RUN = /\p{Lu}[\p{L}\p{M}\p{N}'’-]*(?:\s+\p{Lu}[\p{L}\p{M}\p{N}'’-]*)*/gu;

export const capitalizedEntities: EntityFinder = (reference) =>
  Array.from(reference.matchAll(CAPITALIZED_RUN), (m) => m[0].replace(/['’-]+$/u, ''));

/** the paper's bucket edges (np.digitize over [0, 1, 16, ∞)) */
export const BUCKETS = [
  { name: 'unseen', from: 0, to: 1 },
  { name: 'rare', from: 1, to: 16 },
  { name: 'frequent', from: 16, to: Infinity },
] as const;

export interface EntityBucket {
  name: string;
  /** training-pair counts [from, to) */
  from: number;
  to: number;
  entities: number;
  occurrences: number;
  /** mean over the bucket's entities of each one's hit rate; undefined when empty */
  recall?: number;
}

export interface EntityRecall {
  buckets: EntityBucket[];
  /** over all test occurrences (micro average) */
  overall?: number;
  occurrences: number;
}

/** The distinct entities of `ref` that occur verbatim in `src`. */
export function copyableEntities(src: string, ref: string, find: EntityFinder): string[] {
  return [...new Set(find(ref))].filter((e) => e !== '' && src.includes(e));
}

/**
 * For each entity of `wanted`, the number of training pairs among `pairs` whose copyable entities
 * include it. `pairs` may be a stream: it is read once.
 */
export function trainingCounts(pairs: Iterable<{ src: string; tgt: string }>, wanted: ReadonlySet<string>, find: EntityFinder): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { src, tgt } of pairs) {
    for (const e of copyableEntities(src, tgt, find)) {
      if (wanted.has(e)) counts.set(e, (counts.get(e) ?? 0) + 1);
    }
  }
  return counts;
}

/** `entities[i]`: the copyable entities of test pair i (from `copyableEntities` or the caller). */
export function entityRecall(hyps: readonly string[], entities: readonly (readonly string[])[], trainCounts: ReadonlyMap<string, number>): EntityRecall {
  const per = new Map<string, { hits: number; n: number }>();
  let hits = 0, occurrences = 0;
  entities.forEach((list, i) => {
    for (const e of list) {
      const hit = hyps[i].includes(e);
      const s = per.get(e) ?? { hits: 0, n: 0 };
      s.n++;
      if (hit) s.hits++;
      per.set(e, s);
      occurrences++;
      if (hit) hits++;
    }
  });
  const buckets = BUCKETS.map((b) => {
    let sum = 0, entitiesIn = 0, occ = 0;
    for (const [e, s] of per) {
      const c = trainCounts.get(e) ?? 0;
      if (c < b.from || c >= b.to) continue;
      sum += s.hits / s.n;
      entitiesIn++;
      occ += s.n;
    }
    return { name: b.name, from: b.from, to: b.to, entities: entitiesIn, occurrences: occ, ...(entitiesIn ? { recall: sum / entitiesIn } : {}) };
  });
  return { buckets, occurrences, ...(occurrences ? { overall: hits / occurrences } : {}) };
}
