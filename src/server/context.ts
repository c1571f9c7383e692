/** What the routes share: the model, its tokenizer and template, the engine and the limits. */
import type { MambaLM } from '../model/lm.js';
import type { Tokenizer } from '../text/tokenizer.js';
import type { GenerationDefaults } from '../generate/generation-config.js';
import type { ChatTemplate } from './chat-template.js';
import type { Engine } from './engine.js';
import type { Metrics } from './metrics.js';

export interface ServerContext {
  model: MambaLM;
  /** the name requests give as `model` */
  modelName: string;
  tokenizer: Tokenizer;
  template?: ChatTemplate;
  defaults: GenerationDefaults;
  /** end-of-text ids: generation_config.json's and the tokenizer's */
  eosIds: number[];
  engine: Engine;
  metrics: Metrics;
  maxModelLen: number;
  /** where slot files go (--state-cache-dir/slots); undefined without --state-cache-dir */
  slotDir?: string;
  /** identifies the model in state files */
  fingerprint: string;
  created: number;
}
