/**
 * The two measurements bench and demo make on a model: prefill and decode speed, and how far
 * `step` strays from `forward` over the same tokens.
 */
import type { MambaLM } from '../model/lm.js';
import { Rng } from '../generate/rng.js';
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
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => rng.nextU32() % model.config.vocabSize);
}

/**
 * forward over batch × prompt tokens, then `newTokens` steps of the whole batch; every timing
 * ends with the logits read back, so a GPU's queued work is inside it. One tiny untimed forward
 * and step first pay for one-time setup (worker threads, pipeline compilation).
 * Progress: 1 unit for the warm-up, `prompt` for the prefill, 1 per step.
 */
export async function measureSpeed(model: MambaLM, batch: number, prompt: number, newTokens: number, progress: Progress): Promise<SpeedResult> {
  const be = model.backend;
  const warm = model.forward(be.upload(randomIds(model, 2, 1), [1, 2]), model.initState(1, 3));
  await model.step(be.upload(randomIds(model, 1, 2), [1]), warm.state).logits.read();
  progress.tick(1, `prefill ${batch} × ${prompt}`);

  const ids = be.upload(randomIds(model, batch * prompt, 3), [batch, prompt]);
  let t0 = performance.now();
  const pre = model.forward(ids, model.initState(batch, prompt + newTokens));
  await pre.logits.read();
  const prefillSeconds = (performance.now() - t0) / 1000;
  pre.logits.dispose();
  progress.tick(prompt, `decode ${batch} × ${newTokens}`);

  let state = pre.state;
  const next = randomIds(model, batch * newTokens, 4);
  t0 = performance.now();
  for (let i = 0; i < newTokens; i++) {
    const out = model.step(be.upload(next.subarray(i * batch, (i + 1) * batch), [batch]), state);
    state = out.state;
    await out.logits.read();
    out.logits.dispose();
    progress.tick(1, `decode ${batch} × ${newTokens}`);
  }
  const decodeSeconds = (performance.now() - t0) / 1000;
  return {
    batch, prompt, newTokens, prefillSeconds, decodeSeconds,
    prefillTokensPerS: (batch * prompt) / prefillSeconds,
    decodeTokensPerS: (batch * newTokens) / decodeSeconds,
  };
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
    const out = model.step(be.upload(ids.subarray(l, l + 1), [1]), state);
    state = out.state;
    const row = (await out.logits.read()) as Float32Array;
    for (let v = 0; v < V; v++) {
      const d = Math.abs(row[v] - whole[l * V + v]);
      if (!(d <= gap)) gap = Number.isNaN(d) ? Infinity : d;
    }
  }
  return gap;
}
