/**
 * Python's `str.split()` and `str.rstrip()` without arguments, which sacreBLEU leans on: they
 * split on Python's whitespace (str.isspace), a set unlike JavaScript's `\s` (it has the
 * separators U+001C–U+001F and U+0085, and lacks U+FEFF). A different set would change token
 * counts, so scores, on such input.
 */
const WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const RUNS = new RegExp(`[${WS}]+`, 'u');
const TRAILING = new RegExp(`[${WS}]+$`, 'u');
const EDGES = new RegExp(`^[${WS}]+|[${WS}]+$`, 'gu');

export function pySplit(s: string): string[] {
  const t = s.replace(EDGES, '');
  return t === '' ? [] : t.split(RUNS);
}

export function pyRstrip(s: string): string {
  return s.replace(TRAILING, '');
}

/**
 * Python's `f'{x:.{digits}f}'`: the nearest decimal, ties to even. `toFixed` is also exact but
 * breaks ties upwards; a tie is a double whose exact expansion ends in 5 at `digits + 1`, which
 * `toFixed(100)` shows exactly (a double's 53 bits cannot reach 100 places past a digit that close
 * to the point).
 */
export function pyFixed(x: number, digits: number): string {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return String(x);
  const exact = Math.abs(x).toFixed(100);
  const cut = exact.indexOf('.') + 1 + digits;
  const tail = exact.slice(cut);
  if (tail[0] !== '5' || /[1-9]/.test(tail.slice(1))) return x.toFixed(digits);
  const kept = exact.slice(0, digits === 0 ? cut - 1 : cut);
  // a tie: toFixed rounds it away from zero, Python to the even neighbour
  if (Number(kept[kept.length - 1]) % 2 === 1) return x.toFixed(digits);
  return (x < 0 ? '-' : '') + kept;
}
