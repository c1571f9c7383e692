#!/usr/bin/env node
/**
 * English–Spanish verse pairs from two public-domain Bibles packaged by Debian: the World English
 * Bible (sword-text-web, module engWEB2015eb) and the Reina-Valera 1909 (sword-text-sparv, module
 * spaRV1909eb). Needs `apt-get install sword-text-web sword-text-sparv libsword-utils` (mod2imp
 * exports a module as `$$$Book C:V` lines each followed by the verse's OSIS markup).
 *
 *   node scripts/verse-corpus.mjs OUT_DIR
 *
 * Writes OUT_DIR/{train,valid,test}.tsv (one verse pair a line, `en<TAB>es`) and
 * OUT_DIR/{train,valid,test}-chapters.tsv (one chapter a line: paragraph-level data). Whole books
 * are held out (VALID_BOOKS, TEST_BOOKS), so no test verse shares a book with training. Verses
 * missing or empty on either side (the WEB's deuterocanon, verses the editions number
 * differently) are left out. Nothing is downloaded; the corpus is built here, not committed.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const VALID_BOOKS = new Set(['Ruth', 'Philippians']);
const TEST_BOOKS = new Set(['Jonah', 'Mark', 'Titus']);

function verses(module) {
  let text;
  try {
    text = execFileSync('mod2imp', [module], { encoding: 'utf8', maxBuffer: 1 << 30 });
  } catch (e) {
    throw new Error(`mod2imp ${module} failed (${e.code ?? e.message}): install sword-text-web sword-text-sparv libsword-utils`);
  }
  const out = new Map();
  let key;
  for (const line of text.split('\n')) {
    const head = /^\$\$\$(.+) (\d+):(\d+)$/.exec(line);
    if (head) {
      key = Number(head[2]) > 0 && Number(head[3]) > 0 ? `${head[1]}\t${head[2]}\t${head[3]}` : undefined;
      continue;
    }
    if (line.startsWith('$$$')) key = undefined;
    if (key === undefined) continue;
    out.set(key, ((out.get(key) ?? '') + ' ' + clean(line)).trim());
  }
  return out;
}

/** Verse text without markup: notes and titles dropped, tags removed, spaces normalized. */
function clean(osis) {
  return osis
    .replace(/<note\b[^>]*>[\s\S]*?<\/note>/g, ' ')
    .replace(/<title\b[^>]*>[\s\S]*?<\/title>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .replace(/ ([.,;:!?’”)])/g, '$1')
    .replace(/([“‘(]) /g, '$1')
    .trim();
}

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node scripts/verse-corpus.mjs OUT_DIR\n');
  process.exit(2);
}
const en = verses('engWEB2015eb');
const es = verses('spaRV1909eb');
const split = (book) => (TEST_BOOKS.has(book) ? 'test' : VALID_BOOKS.has(book) ? 'valid' : 'train');
const pairs = { train: [], valid: [], test: [] };
const chapters = { train: new Map(), valid: new Map(), test: new Map() };
for (const [key, e] of en) {
  const s = es.get(key);
  if (!e || !s || e.includes('\t') || s.includes('\t')) continue;
  const [book, chapter] = key.split('\t');
  const part = split(book);
  pairs[part].push(`${e}\t${s}\n`);
  const c = chapters[part].get(`${book} ${chapter}`) ?? { en: [], es: [] };
  c.en.push(e);
  c.es.push(s);
  chapters[part].set(`${book} ${chapter}`, c);
}
fs.mkdirSync(dir, { recursive: true });
for (const part of ['train', 'valid', 'test']) {
  fs.writeFileSync(path.join(dir, `${part}.tsv`), pairs[part].join(''));
  fs.writeFileSync(path.join(dir, `${part}-chapters.tsv`), [...chapters[part].values()].map((c) => `${c.en.join(' ')}\t${c.es.join(' ')}\n`).join(''));
  process.stderr.write(`${part}: ${pairs[part].length} verse pairs, ${chapters[part].size} chapters\n`);
}
