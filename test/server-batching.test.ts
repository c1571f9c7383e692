/**
 * Continuous batching: 16 streaming requests with prompts of 10-500 tokens, sent at once, each
 * give the ids they give when served alone (greedy), and the decode steps did run batched.
 * The same for the hybrid fixture, whose attention layers carry a KV cache per slot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type OpenAI from 'openai';
import { complete, HYBRID, MAMBA2, MODEL, metric, promptIds, serve } from './server-util.js';

async function streamIds(client: OpenAI, prompt: number[], maxTokens: number): Promise<number[]> {
  const stream = await client.completions.create({ model: MODEL, prompt, max_tokens: maxTokens, temperature: 0, stream: true, ignore_eos: true, return_token_ids: true } as OpenAI.CompletionCreateParamsStreaming);
  const ids: number[] = [];
  for await (const chunk of stream) for (const c of chunk.choices) ids.push(...(c as unknown as { token_ids: number[] }).token_ids);
  return ids;
}

for (const [name, dir, count] of [['mamba2-tiny', MAMBA2, 16], ['ms-hybrid', HYBRID, 6]] as const) {
  test(`${name}: ${count} concurrent streams with prompts of 10-500 tokens each equal the request served alone`, async () => {
    // no cache: alone and together must take the same prefill path
    const s = await serve(dir, { stateCacheMb: 0, maxBatch: 16, maxModelLen: 600 });
    try {
      const prompts = Array.from({ length: count }, (_, i) => promptIds(10 + Math.round((490 * i) / (count - 1)), 100 + i));
      const maxTokens = (i: number) => 6 + (i % 5) * 3;   // different lengths: sequences leave at different steps
      const alone: number[][] = [];
      for (const [i, p] of prompts.entries()) alone.push((await complete(s.client, p, maxTokens(i))).choices[0].token_ids);
      const stepsBefore = await metric(s.url, 'mamba_ts_decode_batch_size_count');
      const tokensBefore = await metric(s.url, 'mamba_ts_decode_tokens_total');
      const together = await Promise.all(prompts.map((p, i) => streamIds(s.client, p, maxTokens(i))));
      assert.deepEqual(together, alone);
      const steps = (await metric(s.url, 'mamba_ts_decode_batch_size_count')) - stepsBefore;
      const tokens = (await metric(s.url, 'mamba_ts_decode_tokens_total')) - tokensBefore;
      // the first token of each request comes from its prefill, the rest from decode steps
      assert.equal(tokens, prompts.reduce((a, _, i) => a + maxTokens(i) - 1, 0));
      assert.ok(steps < tokens / 2, `${steps} decode steps made ${tokens} tokens: the requests ran batched`);
      assert.equal(await metric(s.url, 'mamba_ts_slots_busy'), 0);
    } finally {
      await s.close();
    }
  });
}


test('a long prompt is prefilled in chunks between decode steps: running streams keep flowing', async () => {
  const s = await serve(MAMBA2, { stateCacheMb: 0, prefillChunk: 32 });
  try {
    // A streams; B's 480-token prompt takes 15 chunks, each followed by one of A's decode steps
    const a = await s.client.completions.create({ model: MODEL, prompt: promptIds(10, 1), max_tokens: 400, temperature: 0, stream: true, ignore_eos: true, return_token_ids: true } as OpenAI.CompletionCreateParamsStreaming);
    const it = a[Symbol.asyncIterator]();
    await it.next();
    let aTokens = 0;
    let bFirst = -1;
    const b = (async () => {
      const stream = await s.client.completions.create({ model: MODEL, prompt: promptIds(480, 2), max_tokens: 2, temperature: 0, stream: true, ignore_eos: true, return_token_ids: true } as OpenAI.CompletionCreateParamsStreaming);
      for await (const _ of stream) if (bFirst < 0) bFirst = aTokens;
    })();
    for (let r = await it.next(); !r.done; r = await it.next()) aTokens += (r.value.choices[0] as unknown as { token_ids: number[] }).token_ids.length;
    await b;
    assert.equal(aTokens, 399);
    // 15 steps of A run before B's first token is sent (one prefill at once would allow 1); half is the margin for delivery order
    assert.ok(bFirst >= 8, `A made ${bFirst} tokens while B's prompt was prefilled`);
  } finally {
    await s.close();
  }
});
