/**
 * English → German clauses with the grammar a translation model must learn rather than copy:
 * number words (German writes units before tens in one word: "twenty-one" → "einundzwanzig",
 * through n2words), dates (day before month, month names, through Intl: "March 5, 2021" →
 * "5. März 2021"), decimal commas and unit names (Intl's unit formatting), plural nouns, and
 * verb-final order in German subordinate clauses and perfect participles ("was born on …" →
 * "wurde am … geboren"; "says that Anna sleeps" → "sagt, dass Anna schläft").
 */
import { toCardinal as deCardinal } from 'n2words/de-DE';
import { toCardinal as enCardinal } from 'n2words/en-US';
import type { Mulberry32 } from '../../rng.js';

export interface Clause {
  en: string;
  de: string;
}

const NOUNS: readonly [string, string][] = [
  ['apples', 'Äpfel'], ['books', 'Bücher'], ['cats', 'Katzen'], ['houses', 'Häuser'], ['letters', 'Briefe'], ['chairs', 'Stühle'],
];
const VERBS: readonly [string, string][] = [
  ['sleeps', 'schläft'], ['works', 'arbeitet'], ['sings', 'singt'], ['reads', 'liest'], ['laughs', 'lacht'], ['waits', 'wartet'],
];

/** "{name} has {n} {nouns}": n in 2..999 (1 would need German's gendered "ein/eine"). */
export function countClause(name: string, n: number, noun: number): Clause {
  const [en, de] = NOUNS[noun];
  return { en: `${name} has ${enCardinal(n)} ${en}`, de: `${name} hat ${deCardinal(n)} ${de}` };
}

const dateFormat = (locale: string) => new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
const EN_DATE = dateFormat('en-US');
const DE_DATE = dateFormat('de-DE');

/** "{name} was born on {date}" → "{name} wurde am {date} geboren" (participle last). */
export function dateClause(name: string, date: Date): Clause {
  return { en: `${name} was born on ${EN_DATE.format(date)}`, de: `${name} wurde am ${DE_DATE.format(date)} geboren` };
}

const unitFormat = (locale: string) => new Intl.NumberFormat(locale, { style: 'unit', unit: 'kilometer', unitDisplay: 'long', maximumFractionDigits: 1 });
const EN_KM = unitFormat('en-US');
const DE_KM = unitFormat('de-DE');

/** "{name} walks 12.5 kilometers" → "{name} läuft 12,5 Kilometer". */
export function distanceClause(name: string, km: number): Clause {
  return { en: `${name} walks ${EN_KM.format(km)}`, de: `${name} läuft ${DE_KM.format(km)}` };
}

/** "{a} says that {b} {verb}" → "{a} sagt, dass {b} {verb}" (the verb closes the subordinate clause). */
export function reportClause(a: string, b: string, verb: number): Clause {
  const [en, de] = VERBS[verb];
  return { en: `${a} says that ${b} ${en}`, de: `${a} sagt, dass ${b} ${de}` };
}

/** One clause of a random kind about `names` (the first, and the second for reports). */
export function randomClause(rng: Mulberry32, names: () => string): Clause {
  switch (rng.int(4)) {
    case 0: return countClause(names(), 2 + rng.int(998), rng.int(NOUNS.length));
    case 1: return dateClause(names(), new Date(Date.UTC(1900 + rng.int(130), rng.int(12), 1 + rng.int(28))));
    case 2: return distanceClause(names(), (1 + rng.int(400)) / 2);
    default: return reportClause(names(), names(), rng.int(VERBS.length));
  }
}
