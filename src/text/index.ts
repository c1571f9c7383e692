export type { Tokenizer } from './tokenizer.js';
export { ByteTokenizer } from './byte-level.js';
export { HfTokenizer } from './hf.js';
export { loadTokenizer } from './load.js';
export { TextStream } from './stream.js';
