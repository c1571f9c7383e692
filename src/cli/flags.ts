/**
 * The one flag parser every command shares: `--name value` or `--name=value`, typed and checked
 * here so that a command body only ever sees valid values. Anything unexpected (unknown flag,
 * missing value, repeated flag, stray argument, a number out of range) is a UserError naming the
 * flag, which main.ts prints as one line.
 */
import { UserError } from '../errors.js';

export type FlagKind = 'string' | 'int' | 'number' | 'bool' | 'ids';

export interface FlagSpec {
  kind: FlagKind;
  help: string;
  /** shown in help after the flag name, e.g. DIR, N */
  value?: string;
  required?: boolean;
  default?: string | number | boolean;
  /** inclusive bounds for int and number flags */
  min?: number;
  max?: number;
  /** bounds excluded: `min` itself is rejected (e.g. top-p > 0) */
  minExclusive?: boolean;
  choices?: readonly string[];
}

export type FlagSpecs = Record<string, FlagSpec>;

type ValueOf<S extends FlagSpec> = S['kind'] extends 'bool' ? boolean
  : S['kind'] extends 'string' ? string
  : S['kind'] extends 'ids' ? number[]
  : number;

/** A flag with a default, a required flag or a switch always has a value; others may be absent. */
export type Parsed<T extends FlagSpecs> = {
  [K in keyof T]: T[K] extends { default: unknown } | { required: true } | { kind: 'bool' } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

export interface CommandHelp {
  /** e.g. "mamba-ts logits --model DIR --input FILE --out FILE [options]" */
  usage: string;
  summary: string;
  /** extra paragraphs after the flag list */
  notes?: string;
}

/**
 * An int flag without a `max` of its own counts something a command allocates or loops over
 * (widths, tokens, steps, batch sizes): beyond 2^24 it could only exhaust the machine.
 */
export const MAX_INT_FLAG = 2 ** 24;
/** The models compute in f32: a nonzero number flag must be a normal f32 in magnitude. */
const F32_MIN_NORMAL = 2 ** -126;
const F32_MAX = 3.4028234663852886e38;

const INT = /^-?\d+$/;
const NUMBER = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/**
 * Parses `argv` against `specs`. Prints the command's help to stdout and returns undefined when
 * --help (or -h) is among the arguments.
 */
export function parseFlags<T extends FlagSpecs>(argv: readonly string[], specs: T, help: CommandHelp): Parsed<T> | undefined {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(formatHelp(specs, help));
    return undefined;
  }
  const raw = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UserError(`unexpected argument "${arg}" (flags start with --; see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec) throw new UserError(`unknown flag --${name} (see --help)`);
    if (raw.has(name)) throw new UserError(`--${name} is given twice`);
    if (spec.kind === 'bool') {
      if (eq >= 0) throw new UserError(`--${name} is a switch and takes no value`);
      raw.set(name, true);
      continue;
    }
    if (eq >= 0) {
      raw.set(name, arg.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    // a following flag means this one's value is missing; write --name=--text for such a value
    if (next === undefined || next.startsWith('--')) throw new UserError(`--${name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
    raw.set(name, next);
    i++;
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const v = raw.get(name);
    if (v === undefined) {
      if (spec.required) throw new UserError(`--${name} is required (see --help)`);
      out[name] = spec.kind === 'bool' ? false : spec.default;
      continue;
    }
    out[name] = v === true ? true : convert(name, spec, v);
  }
  return out as Parsed<T>;
}

function convert(name: string, spec: FlagSpec, text: string): string | number | number[] {
  switch (spec.kind) {
    case 'string':
      if (spec.choices && !spec.choices.includes(text)) {
        throw new UserError(`--${name}: "${text}" is not one of ${spec.choices.join(', ')}`);
      }
      return text;
    case 'int':
      if (!INT.test(text)) throw new UserError(`--${name}: expected an integer, got "${text}"`);
      return checkRange(name, spec, Number(text));
    case 'number': {
      const v = Number(text);
      if (!NUMBER.test(text) || !Number.isFinite(v)) throw new UserError(`--${name}: expected a number, got "${text}"`);
      if (v !== 0 && !(Math.abs(v) >= F32_MIN_NORMAL && Math.abs(v) <= F32_MAX)) {
        throw new UserError(`--${name}: ${text} is outside the range of f32 (nonzero magnitudes from 1.2e-38 to 3.4e38)`);
      }
      return checkRange(name, spec, v);
    }
    case 'ids':
      return parseIds(name, text);
    case 'bool':
      throw new Error('unreachable: switches are handled by the caller');
  }
}

function checkRange(name: string, spec: FlagSpec, v: number): number {
  const { min } = spec;
  const max = spec.max ?? (spec.kind === 'int' ? MAX_INT_FLAG : undefined);
  const belowMin = min !== undefined && (spec.minExclusive ? v <= min : v < min);
  if (belowMin || (max !== undefined && v > max)) {
    const lo = min === undefined ? '' : `${spec.minExclusive ? '>' : '>='} ${min}`;
    const hi = max === undefined ? '' : `<= ${max}`;
    throw new UserError(`--${name}: ${v} is out of range (must be ${[lo, hi].filter((s) => s).join(' and ')})`);
  }
  return v;
}

/** "1,2,3" -> [1, 2, 3]: non-negative integers; whether they fit a vocabulary is the caller's check. */
export function parseIds(name: string, text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 1 && parts[0] === '') throw new UserError(`--${name}: no token ids given`);
  return parts.map((p, i) => {
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(Number(p))) {
      throw new UserError(`--${name}: item ${i + 1} "${p}" is not a non-negative integer token id`);
    }
    return Number(p);
  });
}

export function formatHelp(specs: FlagSpecs, help: CommandHelp): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `  --${name}${s.value ? ` ${s.value}` : ''}`;
    const extra = [
      s.required ? 'required' : '',
      s.choices ? `one of ${s.choices.join(', ')}` : '',
      s.default !== undefined && s.kind !== 'bool' ? `default ${s.default}` : '',
    ].filter((x) => x);
    return [left, `${s.help}${extra.length ? ` (${extra.join('; ')})` : ''}`];
  });
  rows.push(['  --debug', 'print stack traces of internal errors'], ['  --help', 'this help']);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const lines = [`usage: ${help.usage}`, '', help.summary, '', 'options:', ...rows.map(([l, r]) => l.padEnd(width) + r)];
  if (help.notes) lines.push('', help.notes);
  return lines.join('\n') + '\n';
}
