/**
 * Typed reads of config fields with defaults; a wrong type or value is a UserError that names the
 * file and the field (with its path, e.g. `ssm_cfg.headdim`).
 */
import { UserError } from '../errors.js';
import { MAX_DIM } from './config-limits.js';
import { describe } from './json.js';

export type Json = Record<string, unknown>;

export class Fields {
  constructor(
    readonly obj: Json,
    readonly file: string,
    readonly prefix = '',
  ) {}

  has(key: string): boolean {
    return Object.hasOwn(this.obj, key) && this.obj[key] !== null;
  }

  /** `value`: what was checked in the field's absence (a default) */
  fail(key: string, what: string, value: unknown = this.obj[key]): never {
    const got = key in this.obj ? `got ${describe(this.obj[key])}` : `absent, so ${describe(value)}`;
    throw new UserError(`${this.file}: field "${this.prefix}${key}" ${what} (${got})`);
  }

  private get<T>(key: string, fallback: T | undefined): unknown {
    if (this.has(key)) return this.obj[key];
    if (fallback === undefined) throw new UserError(`${this.file}: field "${this.prefix}${key}" is missing`);
    return fallback;
  }

  number(key: string, fallback?: number): number {
    const v = this.get(key, fallback);
    if (typeof v !== 'number' || Number.isNaN(v)) this.fail(key, 'must be a number', v);
    return v;
  }

  positive(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    if (!(v > 0) || !Number.isFinite(v)) this.fail(key, 'must be a positive number', v);
    return v;
  }

  int(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    if (!Number.isSafeInteger(v) || v < 0) this.fail(key, 'must be a non-negative integer', v);
    return v;
  }

  positiveInt(key: string, fallback?: number): number {
    const v = this.int(key, fallback);
    if (v === 0) this.fail(key, 'must be a positive integer', v);
    return v;
  }

  /** A positive integer size of a model (a width, count or vocabulary) up to `max`. */
  size(key: string, fallback?: number, max = MAX_DIM): number {
    const v = this.positiveInt(key, fallback);
    if (v > max) this.fail(key, `is beyond the limit of ${max}`, v);
    return v;
  }

  /** A non-negative integer size (0 meaning none) up to `max`. */
  sizeOrZero(key: string, fallback?: number, max = MAX_DIM): number {
    const v = this.int(key, fallback);
    if (v > max) this.fail(key, `is beyond the limit of ${max}`, v);
    return v;
  }

  bool(key: string, fallback?: boolean): boolean {
    const v = this.get(key, fallback);
    if (typeof v !== 'boolean') this.fail(key, 'must be true or false', v);
    return v;
  }

  string(key: string, fallback?: string): string {
    const v = this.get(key, fallback);
    if (typeof v !== 'string') this.fail(key, 'must be a string', v);
    return v;
  }

  /** A [low, high] pair of numbers (Infinity allowed). */
  pair(key: string, fallback?: [number, number]): [number, number] {
    const v = this.get(key, fallback);
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && !Number.isNaN(x))) {
      this.fail(key, 'must be a pair of numbers', v);
    }
    return [v[0], v[1]];
  }

  /** A [low, high] clamp: 0 <= low <= high, low at most `maxLow` (high may be Infinity). */
  clamp(key: string, fallback: [number, number], maxLow: number): [number, number] {
    const [lo, hi] = this.pair(key, fallback);
    if (!(lo >= 0 && lo <= maxLow && lo <= hi)) this.fail(key, `must be [low, high] with 0 <= low <= high and low <= ${maxLow}`, [lo, hi]);
    return [lo, hi];
  }

  intList(key: string, fallback?: number[]): number[] {
    const v = this.get(key, fallback);
    if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && x >= 0)) {
      this.fail(key, 'must be a list of non-negative integers', v);
    }
    return v as number[];
  }

  object(key: string): Fields {
    const v = this.get(key, {});
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(key, 'must be an object', v);
    return new Fields(v as Json, this.file, `${this.prefix}${key}.`);
  }

  /** Rejects keys outside `known` (a field the reference code would also refuse). */
  onlyKnown(known: readonly string[]): void {
    for (const k of Object.keys(this.obj)) {
      if (!known.includes(k)) throw new UserError(`${this.file}: unknown field "${this.prefix}${k}"`);
    }
  }
}

export function asObject(v: unknown, file: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`${file}: expected a JSON object`);
  return v as Json;
}
