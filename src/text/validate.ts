/**
 * Checks a parsed `tokenizer.json` before @huggingface/tokenizers builds it: that library trusts
 * its input, so a malformed file either loads with silently wrong tokenization, fails later with
 * a TypeError, or makes every later step slow (an id of 1e9 sizes the vocabulary; a pattern
 * with nested quantifiers backtracks exponentially on a short prompt). The rules are those the
 * Rust library enforces when it deserializes (ids, vocabulary, merges), plus a bound on regex
 * patterns that the Rust library gets from its backtracking-free engine.
 */
import { UserError } from '../errors.js';
import { describe } from '../io/json.js';

/** ids are rows of an embedding; a vocabulary beyond this is corruption, not a model */
export const MAX_TOKEN_ID = 2 ** 24;
/** the longest pre-tokenizer pattern of a published tokenizer is under 300 characters */
export const MAX_PATTERN = 4096;

const MODELS = ['BPE', 'WordPiece', 'WordLevel', 'Unigram'];

export function validateTokenizerJson(json: Record<string, unknown>, file: string): void {
  const fail = (field: string, what: string, got?: unknown): never => {
    throw new UserError(`${file}: field "${field}" ${what}${got === undefined ? '' : ` (got ${describe(got)})`}`);
  };
  const model = json.model;
  if (typeof model !== 'object' || model === null || Array.isArray(model)) return fail('model', 'must be an object', model);
  const m = model as Record<string, unknown>;
  const type = m.type ?? (m.merges !== undefined ? 'BPE' : undefined);
  if (typeof type !== 'string' || !MODELS.includes(type)) return fail('model.type', `must be one of ${MODELS.join(', ')}`, m.type);

  const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < MAX_TOKEN_ID;
  let vocab: Map<string, number> | undefined;
  if (type === 'Unigram') {
    const list = m.vocab;
    if (!Array.isArray(list) || list.length > MAX_TOKEN_ID) return fail('model.vocab', 'must be a list of [piece, score] pairs', list);
    list.forEach((p, i) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || typeof p[1] !== 'number' || !Number.isFinite(p[1])) {
        fail(`model.vocab[${i}]`, 'must be a [piece, score] pair', p);
      }
    });
    if (m.unk_id !== undefined && m.unk_id !== null && !(isId(m.unk_id) && m.unk_id < list.length)) fail('model.unk_id', `must be an id below ${list.length}`, m.unk_id);
  } else {
    const v = m.vocab;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('model.vocab', 'must map tokens to ids', v);
    vocab = new Map();
    for (const [token, id] of Object.entries(v)) {
      if (!isId(id)) fail(`model.vocab["${token.slice(0, 40)}"]`, `must be an integer id below ${MAX_TOKEN_ID}`, id);
      vocab.set(token, id as number);
    }
  }
  if (type === 'BPE') checkMerges(m.merges, vocab!, fail);

  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) return fail('added_tokens', 'must be a list', added);
  added.forEach((t, i) => {
    const o = t as { id?: unknown; content?: unknown };
    if (typeof t !== 'object' || t === null || !isId(o.id) || typeof o.content !== 'string' || o.content === '') {
      fail(`added_tokens[${i}]`, `must have an integer "id" below ${MAX_TOKEN_ID} and a non-empty "content"`, t);
    }
  });
  for (const part of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) {
    const p = json[part];
    if (p === undefined || p === null) continue;
    if (typeof p !== 'object' || Array.isArray(p) || typeof (p as { type?: unknown }).type !== 'string') fail(part, 'must be null or an object with a "type"', p);
    checkPatterns(p, part, fail);
  }
}

function checkMerges(merges: unknown, vocab: Map<string, number>, fail: (f: string, w: string, g?: unknown) => never): void {
  if (merges === undefined) return;
  if (!Array.isArray(merges)) fail('model.merges', 'must be a list', merges);
  (merges as unknown[]).forEach((merge, i) => {
    let pair: unknown[] | undefined;
    if (typeof merge === 'string') {
      const parts = merge.split(' ');
      if (parts.length === 2) pair = parts;
    } else if (Array.isArray(merge) && merge.length === 2) {
      pair = merge;
    }
    if (!pair || !pair.every((p) => typeof p === 'string' && p !== '')) return fail(`model.merges[${i}]`, 'must be "a b" or ["a", "b"]', merge);
    const [a, b] = pair as string[];
    for (const token of [a, b, a + b]) {
      if (!vocab.has(token)) fail(`model.merges[${i}]`, `uses "${token.slice(0, 40)}", which is not in model.vocab`);
    }
  });
}

/** Every `{"Regex": pattern}` in a pipeline part (Split pre-tokenizers, Replace normalizers...). */
function checkPatterns(value: unknown, where: string, fail: (f: string, w: string, g?: unknown) => never): void {
  if (typeof value !== 'object' || value === null) return;
  for (const [k, v] of Object.entries(value)) {
    const field = `${where}.${k}`;
    if (k === 'Regex') {
      if (typeof v !== 'string' || v.length > MAX_PATTERN) fail(field, `must be a pattern of at most ${MAX_PATTERN} characters`, v);
      const problem = backtrackingProblem(v as string);
      if (problem) fail(field, `is refused: ${problem}`, v);
    } else {
      checkPatterns(v, field, fail);
    }
  }
}

/**
 * Why `pattern` could backtrack exponentially in JavaScript's engine, or undefined. The Rust
 * library runs these patterns on onig; V8's backtracking engine takes exponential time on a
 * repeated group that itself repeats or alternates (`(a+)+`, `(a|a)*`): such patterns are refused.
 * A repeated group of fixed-length literals and classes, and everything unrepeated, is allowed,
 * which covers the published pre-tokenizers (GPT-2, Llama 3, Qwen, ...).
 */
export function backtrackingProblem(pattern: string): string | undefined {
  // per open group: does it contain a repetition or an alternation?
  const groups: { repeats: boolean; alternates: boolean }[] = [{ repeats: false, alternates: false }];
  let last: { repeats: boolean; alternates: boolean } | undefined; // the atom a quantifier applies to
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      i += 2;
      if ((next === 'p' || next === 'P' || next === 'u' || next === 'x' || next === 'k') && (pattern[i] === '{' || pattern[i] === '<')) {
        const close = pattern.indexOf(pattern[i] === '{' ? '}' : '>', i);
        i = close < 0 ? pattern.length : close + 1;
      }
      last = { repeats: false, alternates: false };
    } else if (c === '[') {
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i++;
      last = { repeats: false, alternates: false };
    } else if (c === '(') {
      groups.push({ repeats: false, alternates: false });
      i++;
      if (pattern[i] === '?') {
        i++;
        if (pattern[i] === '<' && pattern[i + 1] !== '=' && pattern[i + 1] !== '!') i = pattern.indexOf('>', i) + 1 || pattern.length;
        else if (pattern[i] === '<') i += 2;
        else i++;
      }
      last = undefined;
    } else if (c === ')') {
      if (groups.length === 1) return 'unbalanced ")"';
      last = groups.pop()!;
      if (last.repeats || last.alternates) {
        const outer = groups[groups.length - 1];
        outer.repeats ||= last.repeats;
      }
      i++;
    } else if (c === '|') {
      groups[groups.length - 1].alternates = true;
      last = undefined;
      i++;
    } else if (c === '*' || c === '+' || c === '?' || c === '{') {
      let repeats = c !== '?';
      if (c === '{') {
        const m = /^\{(\d*)(,?)(\d*)\}/.exec(pattern.slice(i));
        if (!m) {
          last = { repeats: false, alternates: false }; // a literal brace
          i++;
          continue;
        }
        repeats = m[2] === ',' ? m[3] !== '1' || m[1] === '' : Number(m[1]) > 1;
        i += m[0].length;
      } else {
        i++;
      }
      if (pattern[i] === '?' || pattern[i] === '+') i++; // lazy or possessive
      if (repeats && last && (last.repeats || last.alternates)) return 'a repeated group contains a repetition or an alternation (nested quantifiers)';
      if (repeats) groups[groups.length - 1].repeats = true;
      last = undefined;
    } else {
      last = { repeats: false, alternates: false };
      i++;
    }
  }
  return groups.length === 1 ? undefined : 'unbalanced "("';
}
