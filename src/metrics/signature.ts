/**
 * sacreBLEU's reproducibility signatures and score lines. The numbers here are sacreBLEU 2.6.0's
 * (tests compare against it), so the signatures name that version, as sacreBLEU's own would.
 */
import { pyFixed } from './python-text.js';

export const SACREBLEU_VERSION = '2.6.0';

/** `key:value|...|version:2.6.0`, in sacreBLEU's order (version last). */
export function signature(fields: Record<string, string | number>): string {
  return [...Object.entries(fields), ['version', SACREBLEU_VERSION]].map(([k, v]) => `${k}:${v}`).join('|');
}

export interface Scored {
  /** "BLEU", "chrF2", "chrF2++" */
  name: string;
  score: number;
  signature: string;
  /** BLEU's precisions, brevity penalty and lengths; empty for chrF */
  verbose: string;
}

/** sacreBLEU's text line: `NAME|SIGNATURE = 46.52 VERBOSE`. */
export function scoreLine(s: Scored, width = 2): string {
  return `${s.name}|${s.signature} = ${pyFixed(s.score, width)}${s.verbose ? ` ${s.verbose}` : ''}`;
}

/** sacreBLEU's JSON object for a score (`--format json`): the score rounded to `width` places. */
export function scoreJson(s: Scored, width = 2): Record<string, string | number> {
  const d: Record<string, string | number> = { name: s.name, score: Number(pyFixed(s.score, width)), signature: s.signature };
  if (s.verbose) d.verbose_score = s.verbose;
  for (const pair of s.signature.split('|')) {
    const [k, v] = pair.split(':');
    d[k] = v;
  }
  return d;
}
