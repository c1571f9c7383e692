/**
 * Autoregressive decoding of a batch of prompts. Each prompt is prefilled with `forward` on its
 * own state (prompts may differ in length; no padding enters any state), the states are stacked
 * with `ModelState.concatBatch`, and the batch then advances one token per `step`. A sequence
 * that meets a stop id or its token budget leaves the batch (`selectBatch`), so finished ones
 * cost nothing. Greedy decoding (temperature 0, no repetition penalty) takes the argmax where the
 * logits are, so on a GPU only the ids come back; each step's device memory is freed as it goes
 * (steps.ts), so a long run holds one state and one step's buffers.
 */
import { greedyTokens } from '../backend/index.js';
import { disposeExcept } from '../backend/scope.js';
import { UserError } from '../errors.js';
import { describeValue } from '../model/args.js';
import { MambaLM } from '../model/lm.js';
import { ModelState } from '../model/state.js';
import type { Tensor } from '../tensor.js';
import { Xoshiro128 } from '../rng.js';
import { checkSamplingOptions, sampleToken, type SamplingOptions } from './sampling.js';
import { decodeStep, prefill, rebatch } from './steps.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** sequence i draws from its own generator seeded with seed + i (default seed 0) */
  seed?: number;
  /** a sequence ends after producing one of these (the stop id is part of its output) */
  stopIds?: readonly number[];
}

export interface GenerationStep {
  /** the new token of each sequence, in prompt order; null where the sequence had finished before */
  tokens: (number | null)[];
  /** which sequences finished with this step */
  finished: boolean[];
}

export interface GenerationStats {
  /** prompt tokens and the time to run them through forward (including the first draw) */
  prefillTokens: number;
  prefillSeconds: number;
  /** tokens made by step and the time spent in step, reading logits and sampling */
  decodeTokens: number;
  decodeSeconds: number;
}

export function tokensPerSecond(tokens: number, seconds: number): number {
  return seconds > 0 ? tokens / seconds : 0;
}

/**
 * Streams the new tokens of every prompt, one step at a time. `stats` fills in as it runs; the
 * time the consumer spends between steps is not counted.
 */
export class Generation implements AsyncIterable<GenerationStep> {
  readonly stats: GenerationStats = { prefillTokens: 0, prefillSeconds: 0, decodeTokens: 0, decodeSeconds: 0 };
  private started = false;

  constructor(private readonly model: MambaLM, private readonly prompts: readonly (readonly number[])[], private readonly opts: GenerateOptions) {
    if (!(model instanceof MambaLM)) throw new UserError(`generate(model): expected a MambaLM (loadModel), got ${describeValue(model)}`);
    const given: unknown = prompts;
    if (!Array.isArray(given) || !given.every((p: unknown): boolean => Array.isArray(p) || ArrayBuffer.isView(p))) {
      const hint = Array.isArray(given) && typeof given[0] === 'number' ? ' (one prompt is [ids])' : '';
      throw new UserError(`generate(prompts): expected an array of prompts, each an array of token ids, got ${describeValue(prompts)}${hint}`);
    }
    if (typeof opts !== 'object' || opts === null) throw new UserError(`generate(options): expected an object with maxNewTokens, got ${describeValue(opts)}`);
    checkSamplingOptions(opts);
    if (!(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 0)) {
      throw new RangeError(`generate: maxNewTokens ${opts.maxNewTokens} must be an integer >= 0`);
    }
    if (prompts.length === 0) throw new UserError('generate: no prompts');
    const V = model.vocabPadded;
    prompts.forEach((p, b) => {
      if (p.length === 0) throw new UserError(`generate: prompt ${b} is empty`);
      const bad = p.findIndex((id) => !(Number.isInteger(id) && id >= 0 && id < V));
      if (bad >= 0) throw new UserError(`generate: prompt ${b} token ${bad} is id ${p[bad]}, outside the model's vocabulary [0, ${V})`);
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GenerationStep> {
    if (this.started) throw new Error('a Generation can be iterated once');
    this.started = true;
    const { model, prompts, opts } = this;
    if (opts.maxNewTokens === 0) return;
    const B = prompts.length;
    const V = model.vocabPadded;
    const vocab = model.config.vocabSize;
    const stop = new Set(opts.stopIds ?? []);
    const rngs = prompts.map((_, b) => new Xoshiro128((opts.seed ?? 0) + b));
    const history = prompts.map((p) => [...p]);
    const produced = new Array<number>(B).fill(0);
    const greedy = opts.temperature === 0 && (opts.repetitionPenalty ?? 1) === 1;
    /**
     * The next token of each sequence `seqs[i]` from row `rows[i]` of logits [R, V] (R rows of
     * any leading shape), which it disposes. Greedy: the argmax runs where the logits are and
     * only the ids come back; otherwise the logits are read and sampled on the host.
     */
    const choose = async (logits: Tensor, rows: readonly number[], seqs: readonly number[]): Promise<number[]> => {
      let pick: (row: number, b: number) => number;
      if (greedy) {
        const ids = await greedyTokens(logits, vocab);
        const host = await ids.read();
        ids.dispose();
        pick = (row) => host[row];
      } else {
        const z = (await logits.read()) as Float32Array;
        pick = (row, b) => sampleToken(z.subarray(row * V, (row + 1) * V), vocab, history[b], opts, rngs[b]);
      }
      logits.dispose();
      return seqs.map((b, i) => {
        const id = pick(rows[i], b);
        history[b].push(id);
        produced[b]++;
        return id;
      });
    };
    const isDone = (b: number, id: number) => stop.has(id) || produced[b] >= opts.maxNewTokens;

    const states: ModelState[] = [];
    let state: ModelState | undefined;
    try {
      // prefill: each prompt alone; the KV caches of attention layers sized for the whole run
      let t0 = performance.now();
      const maxLen = Math.max(...prompts.map((p) => p.length)) + opts.maxNewTokens;
      const first: number[] = [];
      for (let b = 0; b < B; b++) {
        const p = prompts[b];
        const out = prefill(model, model.backend.upload(Int32Array.from(p), [1, p.length]), model.initState(1, maxLen));
        states.push(out.state);
        first.push(...(await choose(out.logits, [p.length - 1], [b])));
      }
      state = B === 1 ? states[0] : rebatch(states, () => ModelState.concatBatch(states));
      this.stats.prefillTokens = prompts.reduce((a, p) => a + p.length, 0);
      this.stats.prefillSeconds = (performance.now() - t0) / 1000;

      // `active`: prompt indices still running, in the order of the batch rows of `state`
      let active = [...Array(B).keys()].filter((b) => !isDone(b, first[b]));
      // a copy: the consumer may keep the yielded `first`, and `last` changes every step
      const last = [...first];
      yield { tokens: first, finished: first.map((id, b) => isDone(b, id)) };
      let rowsOfState = [...Array(B).keys()];
      while (active.length > 0) {
        t0 = performance.now();
        if (active.length !== rowsOfState.length) {
          const rows = active.map((b) => rowsOfState.indexOf(b));
          const from = state;
          state = rebatch(from, () => from.selectBatch(rows));
          rowsOfState = active;
        }
        const out = decodeStep(model, model.backend.upload(Int32Array.from(active, (b) => last[b]), [active.length]), state);
        state = out.state;
        const chosen = await choose(out.logits, active.map((_, row) => row), active);
        const tokens: (number | null)[] = new Array(B).fill(null);
        const finished = new Array<boolean>(B).fill(false);
        active.forEach((b, row) => {
          tokens[b] = last[b] = chosen[row];
          finished[b] = isDone(b, chosen[row]);
        });
        active = active.filter((b) => !finished[b]);
        this.stats.decodeTokens += rowsOfState.length;
        this.stats.decodeSeconds += (performance.now() - t0) / 1000;
        yield { tokens, finished };
      }
    } finally {
      // also when the consumer stops early: the state of the sequences is no one's any more
      disposeExcept([states, state], undefined);
    }
  }
}

export function generate(model: MambaLM, promptIds: readonly (readonly number[])[], opts: GenerateOptions): Generation {
  return new Generation(model, promptIds, opts);
}

/** Runs `generate` to the end: the new ids of each prompt (stop ids included) and the stats. */
export async function generateAll(model: MambaLM, promptIds: readonly (readonly number[])[], opts: GenerateOptions): Promise<{ ids: number[][]; stats: GenerationStats }> {
  const run = generate(model, promptIds, opts);
  const ids = promptIds.map((): number[] => []);
  for await (const step of run) step.tokens.forEach((id, b) => id !== null && ids[b].push(id));
  return { ids, stats: run.stats };
}
