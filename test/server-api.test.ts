/**
 * `mamba-ts serve` through the official openai client: completions and chat, streamed and not,
 * give the ids `mamba-ts generate` gives; seeded sampling reproduces (choice i uses seed + i, as
 * generate's sequence i does); log-probabilities are the model's; stop strings end the text
 * before them; tokenize, models, health and metrics answer.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type OpenAI from 'openai';
import { loadModel } from '../src/model/load.js';
import { cpu } from './cpu-util.js';
import { chatModel, cliIds, cliJson, complete, MODEL, metric, post, promptIds, renderChat, serve, type TestServer } from './server-util.js';

let dir: string;
let s: TestServer;
before(async () => {
  dir = chatModel();
  s = await serve(dir);
});
after(() => s.close());

test('completions: greedy ids and text equal mamba-ts generate (ids and text prompts)', async () => {
  const ids = promptIds(37, 1);
  const [want, wantText] = await Promise.all([cliIds(dir, ids, 12), cliJson(dir, 'The state space', 10)]);
  const got = await complete(s.client, ids, 12);
  assert.deepEqual(got.choices[0].token_ids, want);
  assert.equal(got.choices[0].finish_reason, 'length');
  assert.deepEqual(got.usage, { prompt_tokens: 37, completion_tokens: 12, total_tokens: 49, prompt_tokens_details: { cached_tokens: 0 } });
  // the fixture's eos is id 0: without ignore_eos both stop there, or both run to the limit
  const text = await s.client.completions.create({ model: MODEL, prompt: 'The state space', max_tokens: 10, temperature: 0, return_token_ids: true } as OpenAI.CompletionCreateParamsNonStreaming);
  assert.equal(text.choices[0].text, wantText.text);
  assert.deepEqual((text.choices[0] as unknown as { token_ids: number[] }).token_ids, wantText.ids);
});

test('completions: a stream gives the same ids and text, ends with finish_reason and usage', async () => {
  const ids = promptIds(50, 2);
  const whole = await complete(s.client, ids, 15);
  const stream = await s.client.completions.create({ model: MODEL, prompt: ids, max_tokens: 15, temperature: 0, stream: true, stream_options: { include_usage: true }, ignore_eos: true, return_token_ids: true } as OpenAI.CompletionCreateParamsStreaming);
  let text = '';
  const got: number[] = [];
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.text;
      got.push(...(c as unknown as { token_ids: number[] }).token_ids);
      finish = c.finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.deepEqual(got, whole.choices[0].token_ids);
  assert.equal(text, whole.choices[0].text);
  assert.equal(finish, 'length');
  assert.equal(usage?.completion_tokens, 15);
  assert.equal(usage?.prompt_tokens, 50);
});

test('chat: the template renders the prompt; streamed and whole answers equal generate', async () => {
  const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'What is a state space?' }];
  const want = await cliJson(dir, renderChat(messages), 9);
  const whole = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 9, temperature: 0 });
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0].message.role, 'assistant');
  assert.equal(whole.choices[0].message.content, want.text);
  assert.equal(whole.usage?.prompt_tokens, Buffer.byteLength(renderChat(messages)));
  const stream = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 9, temperature: 0, stream: true });
  let text = '';
  let role: string | undefined;
  for await (const chunk of stream) {
    role ??= chunk.choices[0]?.delta.role;
    text += chunk.choices[0]?.delta.content ?? '';
  }
  assert.equal(role, 'assistant');
  assert.equal(text, want.text);
});

test('seeded sampling: the same seed repeats, choice i of n equals seed + i alone and generate --seed', async () => {
  const ids = promptIds(20, 3);
  const opts = { temperature: 1.3, top_p: 0.95, top_k: 200, seed: 7 };
  const [a, b, other, three] = await Promise.all([
    complete(s.client, ids, 10, opts), complete(s.client, ids, 10, opts), complete(s.client, ids, 10, { ...opts, seed: 9 }), complete(s.client, ids, 10, { ...opts, n: 3 }),
  ]);
  assert.deepEqual(a.choices[0].token_ids, b.choices[0].token_ids);
  assert.notDeepEqual(a.choices[0].token_ids, other.choices[0].token_ids);
  assert.deepEqual(three.choices.map((c) => c.index), [0, 1, 2]);
  assert.deepEqual(three.choices[0].token_ids, a.choices[0].token_ids);
  assert.deepEqual(three.choices[2].token_ids, other.choices[0].token_ids);
  assert.equal(three.usage.prompt_tokens, 20);
  assert.equal(three.usage.completion_tokens, 30);
  const cli = await cliIds(dir, ids, 10, '--temperature', '1.3', '--top-p', '0.95', '--top-k', '200', '--seed', '8');
  assert.deepEqual(three.choices[1].token_ids, cli);
});

test('several prompts with n each: choice p * n + i is choice i of prompt p alone', async () => {
  const prompts = [promptIds(12, 21), promptIds(30, 22)];
  const opts = { n: 2, temperature: 1, seed: 11 };
  const both = await complete(s.client, prompts, 6, opts);
  assert.deepEqual(both.choices.map((c) => c.index), [0, 1, 2, 3]);
  const second = await complete(s.client, prompts[1], 6, opts);
  assert.deepEqual(both.choices.slice(2).map((c) => c.token_ids), second.choices.map((c) => c.token_ids));
  assert.equal(both.usage.prompt_tokens, 42);
});

test('logprobs are the log-softmax of the model\'s logits at each generated position', async () => {
  const ids = promptIds(25, 4);
  const got = await complete(s.client, ids, 6, { logprobs: 3 });
  const out = got.choices[0];
  const model = await loadModel(dir, cpu);
  const all = [...ids, ...out.token_ids];
  const { logits } = model.forward(model.ids([all]));
  for (let i = 0; i < out.token_ids.length; i++) {
    const [row] = await model.readLogits(logits, ids.length - 1 + i);
    const max = Math.max(...row);
    const logZ = max + Math.log(row.reduce((a, z) => a + Math.exp(z - max), 0));
    assert.ok(Math.abs(out.logprobs!.token_logprobs[i] - (row[out.token_ids[i]] - logZ)) < 1e-4, `token ${i}`);
    // greedy: the chosen token is the most likely one (the legacy format keys alternatives by
    // their text, so byte tokens that all print as U+FFFD share one key)
    for (const lp of Object.values(out.logprobs!.top_logprobs[i])) assert.ok(lp <= out.logprobs!.token_logprobs[i] + 1e-9);
  }
});

test('stop: the text ends before the first stop string, finish_reason stop', async () => {
  const ids = promptIds(30, 5);
  const free = (await complete(s.client, ids, 40)).choices[0];
  const at = [...free.text].findIndex((ch, i) => i > 0 && /[A-Za-z0-9]/.test(ch));
  assert.ok(at > 0, `a printable character to stop at in ${JSON.stringify(free.text)}`);
  const stop = [...free.text][at];
  const cut = await complete(s.client, ids, 40, { stop: ['never-there', stop] });
  assert.equal(cut.choices[0].text, free.text.slice(0, free.text.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, 'stop');
});

test('models, tokenize, detokenize, health, metrics', async () => {
  const models = await s.client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [MODEL]);
  const tok = await post(`${s.url}/tokenize`, { model: MODEL, prompt: 'Hé' });
  assert.deepEqual(tok.json.tokens, [72, 0xc3, 0xa9]);
  const chat = await post(`${s.url}/tokenize`, { messages: [{ role: 'user', content: 'x' }] });
  assert.equal(chat.json.count, Buffer.byteLength(renderChat([{ role: 'user', content: 'x' }])));
  const detok = await post(`${s.url}/detokenize`, { tokens: [72, 0xc3, 0xa9] });
  assert.equal(detok.json.prompt, 'Hé');
  assert.deepEqual(await (await fetch(`${s.url}/health`)).json(), { status: 'ok' });
  assert.ok((await metric(s.url, 'mamba_ts_generation_tokens_total')) > 0);
  assert.ok((await metric(s.url, 'mamba_ts_decode_tokens_per_second')) > 0);
  assert.equal(await metric(s.url, 'mamba_ts_slots_busy'), 0);
});
