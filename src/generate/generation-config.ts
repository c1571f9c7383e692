/**
 * The defaults of a model folder's `generation_config.json` (transformers' GenerationConfig) that
 * `generate` honours: eos_token_id (one id or a list) and the sampling fields present in the file.
 * `do_sample: false`, when written, means greedy (temperature 0); when absent it says nothing,
 * since transformers writes the file without it for every model and the CLI samples by default.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { asObject, Fields } from '../io/fields.js';
import { readJsonFile } from '../io/files.js';

export const GENERATION_CONFIG_FILE = 'generation_config.json';

export interface GenerationDefaults {
  eosIds: number[];
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
}

/** The folder's defaults; none when it has no generation_config.json. */
export function readGenerationDefaults(dir: string): GenerationDefaults {
  const file = path.join(dir, GENERATION_CONFIG_FILE);
  if (!fs.existsSync(file)) return { eosIds: [] };
  const f = new Fields(asObject(readJsonFile(file), file), file);
  const eos = f.has('eos_token_id') ? (typeof f.obj.eos_token_id === 'number' ? [f.int('eos_token_id')] : f.intList('eos_token_id')) : [];
  const opt = <T>(key: string, read: (k: string) => T): T | undefined => (f.has(key) ? read(key) : undefined);
  const greedy = f.has('do_sample') && !f.bool('do_sample');
  const within = (k: string, lo: number, hi: number) => {
    const v = f.number(k);
    if (!(v >= lo && v <= hi)) f.fail(k, `must be in [${lo}, ${hi}]`);
    return v;
  };
  return {
    eosIds: eos,
    maxNewTokens: opt('max_new_tokens', (k) => f.int(k)),
    temperature: greedy ? 0 : opt('temperature', (k) => within(k, 0, Number.MAX_VALUE)),
    topK: opt('top_k', (k) => f.int(k)),
    topP: opt('top_p', (k) => (f.positive(k), within(k, 0, 1))),
    minP: opt('min_p', (k) => within(k, 0, 1)),
    repetitionPenalty: opt('repetition_penalty', (k) => f.positive(k)),
  };
}
