/**
 * One sequence being decoded (one choice of a request): its sampler and generator, the ids so far
 * (for the repetition penalty), its text as it streams, and why it ended. The engine feeds it one
 * row of logits per token; it answers with what to send.
 */
import { Xoshiro128 } from '../rng.js';
import { sampleToken, type SamplingOptions } from '../generate/sampling.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { TextStream } from '../text/stream.js';
import { tokenLogprob, type TokenLogprob } from './logprobs.js';
import { StopText } from '../generate/stop-text.js';

export interface SequenceParams extends SamplingOptions {
  maxTokens: number;
  /** choice i draws from its own generator seeded with seed + i */
  seed: number;
  /** ids that end the sequence (end of text); their text is not sent */
  stopIds: readonly number[];
  /** strings that end the sequence; the text stops before them */
  stop: readonly string[];
  /** alternatives per token to report with its log-probability; undefined: no log-probabilities */
  logprobs?: number;
}

export type FinishReason = 'stop' | 'length';

/** What one token adds to a choice: text may lag behind ids (incomplete characters, a possible stop string). */
export interface Delta {
  index: number;
  text: string;
  ids: number[];
  logprobs: TokenLogprob[];
  finishReason?: FinishReason;
}

export class Sequence {
  readonly generated: number[] = [];
  finishReason?: FinishReason;
  /** the request went away: drop at the next step */
  cancelled = false;
  private readonly rng: Xoshiro128;
  private readonly history: number[];
  private readonly text: TextStream;
  private readonly stops: StopText;

  constructor(readonly index: number, readonly prompt: readonly number[], private readonly p: SequenceParams, tokenizer: Tokenizer, private readonly vocab: number) {
    this.rng = new Xoshiro128(p.seed + index);
    this.history = [...prompt];
    this.text = new TextStream(tokenizer);
    this.stops = new StopText(p.stop, false);
  }

  get done(): boolean {
    return this.cancelled || this.finishReason !== undefined;
  }

  /** the last token, the next step's input */
  get last(): number {
    return this.generated[this.generated.length - 1];
  }

  /** Draws the next token from `row` (logits over at least the vocabulary). */
  accept(row: Float32Array): Delta {
    const id = sampleToken(row, this.vocab, this.history, this.p, this.rng);
    this.history.push(id);
    this.generated.push(id);
    const logprobs = this.p.logprobs === undefined ? [] : [tokenLogprob(row, this.vocab, id, this.p.logprobs)];
    let text = '';
    if (this.p.stopIds.includes(id)) {
      this.finishReason = 'stop';
    } else {
      text = this.stops.push(this.text.push(id));
      if (this.stops.stopped) this.finishReason = 'stop';
      else if (this.generated.length >= this.p.maxTokens) this.finishReason = 'length';
    }
    if (this.finishReason && !this.stops.stopped) text += this.stops.push(this.text.flush()) + this.stops.flush();
    return { index: this.index, text, ids: [id], logprobs, finishReason: this.finishReason };
  }
}
