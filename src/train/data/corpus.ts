/**
 * Training text from the user: a text file, a JSONL file (one JSON object per line with a
 * `text` string), a folder of those (read recursively, in sorted order, hidden entries
 * skipped), or `brown`, the corpus shipped with the package. Everything that can go wrong with
 * the input is a UserError naming the file (and line). Plain text files are not read here: the
 * tokenizer streams through them (tokens.ts), so that a big file never sits in memory as a string.
 * Only regular files are read: a FIFO, socket or device would be read forever or block.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../errors.js';
import { brownDocuments } from './brown.js';

/** Text in memory (JSONL lines, Brown samples), or a text file read when it is tokenized. */
export type Document =
  | {
    /** where it came from, for messages: a path, path:line or brown/ca01 */
    name: string;
    text: string;
  }
  | { name: string; file: string; bytes: number };

export const BROWN = 'brown';

export function readCorpus(spec: string): Document[] {
  checkCorpusPath(spec);
  const docs = spec === BROWN && !fs.existsSync(spec) ? brownDocuments() : readPath(spec);
  if (docs.every((d) => ('text' in d ? d.text.length : d.bytes) === 0)) throw new UserError(`--data ${spec}: the corpus is empty`);
  return docs;
}

/** Refuses a --data that cannot be a corpus (missing, empty, a FIFO or device) before anything is written. */
export function checkCorpusPath(spec: string): void {
  if (spec === '') throw new UserError('--data: empty path');
  if (spec !== BROWN || fs.existsSync(spec)) statCorpus(spec);
}

function statCorpus(p: string): fs.Stats {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch (e) {
    throw new UserError(`--data ${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : `cannot read (${(e as NodeJS.ErrnoException).code})`}`);
  }
  if (!stat.isFile() && !stat.isDirectory()) throw new UserError(`--data ${p}: not a regular file or folder (${kind(stat)})`);
  return stat;
}

function readPath(p: string): Document[] {
  const stat = statCorpus(p);
  if (stat.isFile()) return p.endsWith('.jsonl') ? readJsonl(p) : [{ name: p, file: p, bytes: stat.size }];
  const out: Document[] = [];
  for (const entry of fs.readdirSync(p).filter((e) => !e.startsWith('.')).sort()) out.push(...readPath(path.join(p, entry)));
  return out;
}

function kind(stat: fs.Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'a special file';
}

function readJsonl(file: string): Document[] {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UserError(`${file}: not UTF-8 text`);
  }
  return parseJsonl(file, text);
}

function parseJsonl(file: string, text: string): Document[] {
  const docs: Document[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new UserError(`${where}: not JSON (${(e as Error).message})`);
    }
    const t = typeof obj === 'object' && obj !== null ? (obj as { text?: unknown }).text : undefined;
    if (typeof t !== 'string') throw new UserError(`${where}: expected an object with a "text" string`);
    docs.push({ name: where, text: t });
  });
  return docs;
}
