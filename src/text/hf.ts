/**
 * Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram with their normalizers, pre-tokenizers
 * and decoders) through @huggingface/tokenizers. Encoding adds what the file's post-processor
 * adds; decoding keeps special tokens and does no clean-up of spaces, as the Rust library's
 * `decode(ids, skip_special_tokens=False)` does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { UserError } from '../errors.js';
import { checkJsonDepth } from '../io/json.js';
import type { Tokenizer } from './tokenizer.js';
import { validateTokenizerJson } from './validate.js';

/** letters, digits, spaces, punctuation, accents, CJK, an emoji: a path through every stage */
const PROBE = "Hello world, it's 2024! \n\t ünï €5 日本語 🙂";

export class HfTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly eosId?: number;

  private constructor(private readonly impl: HfTokenizerImpl, private readonly file: string, eosToken: string | undefined) {
    this.name = `tokenizer.json (${file})`;
    let max = -1;
    for (const id of impl.get_vocab(true).values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    this.eosId = eosToken === undefined ? undefined : impl.token_to_id(eosToken);
  }

  /** `file`: a tokenizer.json; a tokenizer_config.json beside it supplies eos_token when present. */
  static fromFile(file: string): HfTokenizer {
    const json = readJson(file);
    validateTokenizerJson(json, file);
    const configFile = path.join(path.dirname(file), 'tokenizer_config.json');
    const config = fs.existsSync(configFile) ? readJson(configFile) : {};
    let impl: HfTokenizerImpl;
    try {
      impl = new HfTokenizerImpl(json, config);
    } catch (e) {
      throw new UserError(`${file}: not a tokenizer this library can read (${(e as Error).message})`);
    }
    const eos = (config as { eos_token?: unknown }).eos_token;
    const eosToken = typeof eos === 'string' ? eos
      : typeof eos === 'object' && eos !== null && typeof (eos as { content?: unknown }).content === 'string' ? (eos as { content: string }).content
      : undefined;
    const tokenizer = new HfTokenizer(impl, file, eosToken);
    // The library reads most fields of the pipeline only when it runs: a wrong type there is found
    // now, on a sample that reaches every stage, rather than in the middle of generation.
    tokenizer.decode(tokenizer.encode(PROBE));
    return tokenizer;
  }

  encode(text: string): number[] {
    return text === '' ? [] : this.guard(() => this.impl.encode(text).ids);
  }

  /** The library trusts the file: its TypeErrors on a malformed pipeline are the file's fault. */
  private guard<T>(run: () => T): T {
    try {
      return run();
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${this.file}: the tokenizer this file describes fails (${(e as Error).message})`);
    }
  }

  decode(ids: readonly number[]): string {
    // ids the tokenizer does not know (an embedding's padding rows) print as U+FFFD
    let out = '';
    let run: number[] = [];
    const flush = () => {
      if (run.length > 0) out += this.guard(() => this.impl.decode(run, { skip_special_tokens: false, clean_up_tokenization_spaces: false }));
      run = [];
    };
    for (const id of ids) {
      if (Number.isInteger(id) && id >= 0 && id < this.vocabSize && this.impl.id_to_token(id) !== undefined) {
        run.push(id);
      } else {
        flush();
        out += '\uFFFD';
      }
    }
    flush();
    return out;
  }
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  checkJsonDepth(text, file);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`${file}: not valid JSON (not a JSON object)`);
  return v as Record<string, unknown>;
}
