/** The tokenizer of a model folder: its tokenizer.json when there is one, bytes otherwise. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ByteTokenizer } from './byte-level.js';
import { HfTokenizer } from './hf.js';
import type { Tokenizer } from './tokenizer.js';

export function loadTokenizer(dir: string): Tokenizer {
  const file = path.join(dir, 'tokenizer.json');
  return fs.existsSync(file) ? HfTokenizer.fromFile(file) : new ByteTokenizer();
}
