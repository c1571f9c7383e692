/**
 * Invented person names from a seeded syllable generator: names no corpus or pretrained
 * vocabulary has seen, so that copying them (named-entity recall) can be measured on names that
 * are truly unseen in training.
 */
import type { Mulberry32 } from '../../rng.js';

const ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'kl', 'st', 'th'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ei', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 'l', 's', 'm'];

function syllable(rng: Mulberry32): string {
  return ONSETS[rng.int(ONSETS.length)] + VOWELS[rng.int(VOWELS.length)] + CODAS[rng.int(CODAS.length)];
}

/** A capitalized name of 2-3 syllables. */
export function inventName(rng: Mulberry32): string {
  let s = '';
  for (let n = 2 + rng.int(2); n > 0; n--) s += syllable(rng);
  return s[0].toUpperCase() + s.slice(1);
}

/**
 * `count` distinct names, none of which is a substring of another (a hit for "Tor" must not come
 * from "Torvan" in the hypothesis).
 */
export function namePool(rng: Mulberry32, count: number): string[] {
  const names = new Set<string>();
  for (let tries = 0; names.size < count; tries++) {
    if (tries > 100 * count + 1000) throw new RangeError(`cannot invent ${count} distinct names`);
    const n = inventName(rng);
    const lower = n.toLowerCase();
    if ([...names].some((m) => m.toLowerCase().includes(lower) || lower.includes(m.toLowerCase()))) continue;
    names.add(n);
  }
  return [...names];
}
