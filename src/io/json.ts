/**
 * Config JSON as Python writes it. Python's json module emits bare `Infinity`, `-Infinity` and
 * `NaN`; transformers 5.x writes non-finite floats as `{"__float__": "Infinity"}`. Both become
 * numbers here, and `stringifyJson` writes non-finite numbers back as bare tokens, which every
 * Python json reader (old and new transformers, mamba_ssm) accepts: transformers 5.17 reads
 * `[0.0, Infinity]` as it reads its own `[0.0, {"__float__": "Infinity"}]` (test/fixtures/make/check_export.py).
 */
import { UserError } from '../errors.js';

const FLOAT_TOKENS = ['-Infinity', 'Infinity', 'NaN'];

/**
 * Nesting beyond this is refused before parsing: no config or tokenizer comes near it, and
 * revivers, validators and error messages all recurse into the value.
 */
export const MAX_JSON_DEPTH = 64;

/** Throws a UserError naming `source` when arrays/objects nest deeper than MAX_JSON_DEPTH. */
export function checkJsonDepth(text: string, source: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) throw new UserError(`${source}: JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
}

/**
 * A short preview of any value for an error message: bounded in depth and length whatever the
 * value is (deep, cyclic, huge, BigInt, Symbol), so that reporting bad input never fails itself.
 */
export function describe(v: unknown, budget = 60): string {
  const out: string[] = [];
  let left = budget;
  const put = (s: string): boolean => {
    out.push(s.length > left ? s.slice(0, Math.max(0, left)) + '…' : s);
    left -= s.length;
    return left > 0;
  };
  const walk = (x: unknown, depth: number): boolean => {
    if (typeof x === 'string') return put(JSON.stringify(x.length > budget ? x.slice(0, budget) : x));
    if (typeof x === 'bigint') return put(`${x.toString().length > 30 ? 'a huge integer' : x.toString()}`);
    if (typeof x === 'number' || typeof x === 'boolean' || x === null || x === undefined) return put(String(x));
    if (typeof x !== 'object') return put(typeof x);
    if (x instanceof Uint8Array) return put(`bytes[${x.length}]`);
    const isArray = Array.isArray(x);
    const items: [string | undefined, unknown][] = isArray ? x.map((v) => [undefined, v])
      : x instanceof Map ? [...x].map(([k, v]) => [typeof k === 'string' ? k : describe(k, 20), v])
      : Object.entries(x);
    const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
    if (depth >= 3) return put(`${open}…${close}`);
    if (!put(open)) return false;
    for (const [i, [k, v]] of items.entries()) {
      if ((i > 0 && !put(', ')) || (k !== undefined && !put(`${JSON.stringify(k)}: `)) || !walk(v, depth + 1)) return false;
    }
    return put(close);
  };
  walk(v, 0);
  return out.join('');
}

/** Rewrites bare non-finite tokens outside strings into `{"__float__": ...}` objects. */
function quoteNonFinite(text: string): string {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      continue;
    }
    if (c !== '-' && c !== 'I' && c !== 'N') continue;
    const token = FLOAT_TOKENS.find((t) => text.startsWith(t, i));
    if (!token) continue;
    out += text.slice(from, i) + `{"__float__":"${token}"}`;
    i += token.length - 1;
    from = i + 1;
  }
  return out + text.slice(from);
}

function reviveFloat(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const f = (value as { __float__?: unknown }).__float__;
    if (keys.length === 1 && typeof f === 'string' && FLOAT_TOKENS.includes(f)) return Number(f);
  }
  return value;
}

/** Parses JSON text; `source` names it in the error. */
export function parseJson(text: string, source: string): unknown {
  checkJsonDepth(text, source);
  try {
    return JSON.parse(quoteNonFinite(text), reviveFloat);
  } catch (e) {
    throw new UserError(`${source}: not valid JSON (${(e as Error).message})`);
  }
}


const SENTINEL = '\u0000float:';
const PY_FLOAT = '\u0000pyfloat:';

/** `x` with a decimal point or an exponent, which Python's json reads as a float. */
function pythonFloat(x: number): string {
  const s = String(x);
  return /[.eIN]/.test(s) ? s : `${s}.0`;
}

/**
 * JSON.stringify with 2-space indent; non-finite numbers become bare Infinity/-Infinity/NaN.
 * Numbers under a key of `floatKeys` (or in an array there) are written as Python floats, `0.0`
 * rather than `0`: transformers 5.x's config validation refuses an int where its field is a float
 * (`"time_step_limit": [0, Infinity]` fails to load).
 */
export function stringifyJson(value: unknown, floatKeys: ReadonlySet<string> = new Set()): string {
  const asFloat = (v: unknown) => (typeof v === 'number' ? PY_FLOAT + String(v) : v);
  const text = JSON.stringify(
    value,
    (k, v) => {
      if (floatKeys.has(k)) return Array.isArray(v) ? v.map(asFloat) : asFloat(v);
      return typeof v === 'number' && !Number.isFinite(v) ? SENTINEL + String(v) : v;
    },
    2,
  );
  return text
    .replace(/"\\u0000pyfloat:([^"]*)"/g, (_m, x: string) => pythonFloat(Number(x)))
    .replace(/"\\u0000float:(-?Infinity|NaN)"/g, '$1') + '\n';
}
