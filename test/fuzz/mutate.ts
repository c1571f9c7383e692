/**
 * Seeded mutations of bytes and JSON for the fuzzer: every case is a pure function of
 * (seed, format, index), so a failure reported by `run.js` is reproduced by its case number.
 */
import { Mulberry32 } from '../../src/rng.js';

/** the project's training generator, with a pick: small, fast and good enough to choose mutations */
export class FuzzRng extends Mulberry32 {
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** A case's seed from the run's seed, the format and the case number. */
export function caseSeed(seed: number, format: string, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const c of `${format}:${index}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 30, 2 ** 31 - 1];

/**
 * One to three edits inside [from, to) of `bytes` (bit flips, byte sets, interesting u32s,
 * insertions, deletions, a truncation). Returns the new bytes and whether the length changed.
 */
export function mutateBytes(rng: FuzzRng, bytes: Uint8Array, from = 0, to = bytes.length): Uint8Array {
  let out = Buffer.from(bytes);
  const edits = 1 + rng.int(3);
  for (let e = 0; e < edits; e++) {
    const hi = Math.min(to, out.length);
    if (hi <= from) break;
    const at = from + rng.int(hi - from);
    switch (rng.int(6)) {
      case 0: out[at] ^= 1 << rng.int(8); break;
      case 1: out[at] = rng.int(256); break;
      case 2: if (at + 4 <= out.length) out.writeUInt32LE(rng.pick(INTERESTING) >>> 0, at); break;
      case 3: out = Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: 1 + rng.int(8) }, () => rng.int(256))), out.subarray(at)]); break;
      case 4: out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + rng.int(8)))]); break;
      case 5: out = out.subarray(0, at); break;
    }
  }
  return out;
}

const deep = (n: number, leaf: string) => '['.repeat(n) + leaf + ']'.repeat(n);
/** Replacement values, as JSON text: huge, negative, non-finite, wrong types, deep nesting. */
const VALUES = [
  '1e9', '1e18', '1e308', '-1', '0', '-0', '0.5', '2147483648', '9007199254740993', '16777217', 'NaN', 'Infinity',
  '-Infinity', 'null', 'true', '"x"', '""', '[]', '{}', '[1, 2]', '[-1, 5]', '{"a": 1}', '"silu"', '"gelu"', '"\\u0000"',
  deep(100, '1'), deep(10000, '0'), '1e-320', '4294967296', '[0, 1e9]',
];

/** A random path into `v` (objects and arrays), as a list of keys. */
function randomPath(rng: FuzzRng, v: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  let cur = v;
  while (typeof cur === 'object' && cur !== null && rng.next() < 0.85) {
    const keys: (string | number)[] = Array.isArray(cur) ? cur.map((_, i) => i) : Object.keys(cur);
    if (keys.length === 0) break;
    const k = rng.pick(keys);
    path.push(k);
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return path;
}

/**
 * A JSON text with one to three values replaced (by VALUES, a neighbour's value, or removed).
 * `parse` must understand the text (it may hold bare NaN/Infinity, as Python writes them).
 */
export function mutateJson(rng: FuzzRng, text: string, parse: (t: string) => unknown = JSON.parse): string {
  let value = parse(text);
  const edits = 1 + rng.int(3);
  const marks = new Map<string, string>();
  for (let e = 0; e < edits; e++) {
    const path = randomPath(rng, value);
    const mark = `\u0001mark${e}\u0001`;
    const choice = rng.int(10);
    const replacement = choice < 8 ? rng.pick(VALUES) : undefined;
    if (path.length === 0) {
      if (replacement !== undefined) return replacement;
      continue;
    }
    const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], value);
    const key = path[path.length - 1];
    if (typeof parent !== 'object' || parent === null) continue;
    if (replacement === undefined) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete (parent as Record<string, unknown>)[key as string];
    } else {
      (parent as Record<string | number, unknown>)[key] = mark;
      marks.set(JSON.stringify(mark), replacement);
    }
    value = value ?? null;
  }
  let out = JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? `\u0001num${v}\u0001` : v));
  out = out.replace(/"\\u0001num(-?Infinity|NaN)\\u0001"/g, '$1');
  for (const [k, v] of marks) out = out.split(k).join(v);
  return out;
}
