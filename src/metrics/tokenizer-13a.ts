/**
 * sacreBLEU's default BLEU tokenizer, `13a`: mteval-v13a.pl's tokenization as sacreBLEU 2.x
 * implements it (Tokenizer13a + TokenizerRegexp), so that scores match sacreBLEU's exactly.
 */
import { pySplit } from './python-text.js';

const RULES: readonly [RegExp, string][] = [
  // symbols and brackets: { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /
  [/([{-~[-` -&(-+:-@/])/gu, ' $1 '],
  // period and comma unless preceded by a digit
  [/([^0-9])([.,])/gu, '$1 $2 '],
  // period and comma unless followed by a digit
  [/([.,])([^0-9])/gu, ' $1 $2'],
  // dash when preceded by a digit
  [/([0-9])(-)/gu, '$1 $2 '],
];

/** `line` as space-separated tokens, single spaces, none at either end. */
export function tokenize13a(line: string): string {
  // mteval's language-independent part: <skipped> markers, hyphenation at line ends, the four
  // SGML entities
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  s = ` ${s} `;
  for (const [re, to] of RULES) s = s.replace(re, to);
  return pySplit(s).join(' ');
}
