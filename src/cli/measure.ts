/**
 * The two measurements bench and demo make on a model: prefill and decode speed, and how far
 * `step` strays from `forward` over the same tokens.
 */
import { greedyTokens } from '../backend/index.js';
import { disposeExcept } from '../backend/scope.js';
import { Xoshiro128 } from '../rng.js';
import { decodeStep, prefill } from '../generate/steps.js';
import type { MambaLM } from '../model/lm.js';
import type { Tensor } from '../tensor.js';
import type { Progress } from './progress.js';

export interface SpeedResult {
  batch: number;
  prompt: number;
  newTokens: number;
  prefillSeconds: number;
  decodeSeconds: number;
  prefillTokensPerS: number;
  decodeTokensPerS: number;
}

/** `n` token ids of `model`'s real vocabulary, the same for the same seed. */
export function randomIds(model: MambaLM, n: number, seed: number): Int32Array {
  const rng = new Xoshiro128(seed);
  return Int32Array.from({ length: n }, () => rng.nextU32() % model.config.vocabSize);
}

/**
 * forward over batch × prompt tokens, then `newTokens` greedy steps of the whole batch, each fed
 * the ids the previous one chose, as `generate --temperature 0` runs. Every timing ends with the
 * ids read back (all a streaming decode needs on the host), so a GPU's queued work is inside it
 * and no logits cross to the host. An untimed prefill and step of the same shapes first pay for
 * one-time setup (worker threads; WebGPU pipelines, which kernels specialize by shape).
 * Progress: 1 unit for the warm-up, `prompt` for the prefill, 1 per step.
 */
export async function measureSpeed(model: MambaLM, batch: number, prompt: number, newTokens: number, progress: Progress): Promise<SpeedResult> {
  const be = model.backend;
  const vocab = model.config.vocabSize;
  const promptIds = randomIds(model, batch * prompt, 3);
  /** prefill of the prompts -> their state and the first decode input, ids [batch] */
  const prefillPrompts = async () => {
    const out = prefill(model, be.upload(promptIds, [batch, prompt]), model.initState(batch, prompt + newTokens));
    const chosen = await nextIds(out.logits, vocab);                        // [batch, prompt]
    chosen.ids.dispose();
    return { state: out.state, ids: be.upload(Int32Array.from({ length: batch }, (_, b) => chosen.host[b * prompt + prompt - 1]), [batch]) };
  };
  const warm = await prefillPrompts();
  const warmStep = decodeStep(model, warm.ids, warm.state);
  disposeExcept(warmStep.state, undefined);
  (await nextIds(warmStep.logits, vocab)).ids.dispose();
  progress.tick(1, `prefill ${batch} × ${prompt}`);

  let t0 = performance.now();
  let { state, ids } = await prefillPrompts();
  const prefillSeconds = (performance.now() - t0) / 1000;
  progress.tick(prompt, `decode ${batch} × ${newTokens}`);

  t0 = performance.now();
  for (let i = 0; i < newTokens; i++) {
    const out = decodeStep(model, ids, state);
    state = out.state;
    ({ ids } = await nextIds(out.logits, vocab));                           // [batch]
    progress.tick(1, `decode ${batch} × ${newTokens}`);
  }
  const decodeSeconds = (performance.now() - t0) / 1000;
  disposeExcept([ids, state], undefined);
  return {
    batch, prompt, newTokens, prefillSeconds, decodeSeconds,
    prefillTokensPerS: (batch * prompt) / prefillSeconds,
    decodeTokensPerS: (batch * newTokens) / decodeSeconds,
  };
}

/** logits [..., Vp] (disposed) -> greedy ids [...], on the backend and read back to the host */
async function nextIds(logits: Tensor, vocab: number): Promise<{ ids: Tensor; host: Int32Array }> {
  const ids = await greedyTokens(logits, vocab);
  logits.dispose();
  return { ids, host: (await ids.read()) as Int32Array };
}

/** max |logits(step) − logits(forward)| over `length` random tokens of one sequence */
export async function stepForwardGap(model: MambaLM, length: number, seed: number): Promise<number> {
  const be = model.backend;
  const V = model.vocabPadded;
  const ids = randomIds(model, length, seed);
  const whole = (await model.forward(be.upload(ids, [1, length])).logits.read()) as Float32Array;
  let state = model.initState(1, length);
  let gap = 0;
  for (let l = 0; l < length; l++) {
    const out = decodeStep(model, be.upload(ids.subarray(l, l + 1), [1]), state);
    state = out.state;
    const row = (await out.logits.read()) as Float32Array;
    out.logits.dispose();
    for (let v = 0; v < V; v++) {
      const d = Math.abs(row[v] - whole[l * V + v]);
      if (!(d <= gap)) gap = Number.isNaN(d) ? Infinity : d;
    }
  }
  return gap;
}
