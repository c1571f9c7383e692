/**
 * Pressure and bad input: every malformed request gets its status and an OpenAI error object
 * naming the field; a missing or wrong key is a 401; a full queue a 429 with Retry-After; a
 * client that disconnects mid-stream frees its slot at once; SIGTERM lets the request in flight
 * finish, refuses new ones, then exits 0.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { cliChild } from './cli-util.js';
import { eventually, MAMBA2, MODEL, metric, post, promptIds, serve, type TestServer } from './server-util.js';

let s: TestServer;
before(async () => {
  s = await serve(MAMBA2, { maxModelLen: 64, maxBatch: 4 });
});
after(() => s.close());

const ok = { model: MODEL, prompt: 'hi', max_tokens: 2 };
const chat = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };

const cases: [string, string, unknown, number, string | null, string?][] = [
  ['malformed JSON', '/v1/completions', '{"model": "tiny", "prompt":', 400, null],
  ['no prompt', '/v1/completions', { model: MODEL }, 400, 'prompt'],
  ['no model', '/v1/completions', { prompt: 'hi' }, 400, 'model'],
  ['unknown model', '/v1/completions', { ...ok, model: 'gpt-4' }, 400, 'model', 'model_not_found'],
  ['prompt beyond the context', '/v1/completions', { ...ok, prompt: promptIds(100, 1) }, 400, 'prompt', 'context_length_exceeded'],
  ['prompt + max_tokens beyond the context', '/v1/completions', { ...ok, max_tokens: 63 }, 400, 'max_tokens', 'context_length_exceeded'],
  ['token id outside the vocabulary', '/v1/completions', { ...ok, prompt: [1, 2, 5000] }, 400, 'prompt', 'invalid_token_id'],
  ['negative token id', '/v1/completions', { ...ok, prompt: [[1, 2], [-1]] }, 400, 'prompt[1]', 'invalid_token_id'],
  ['empty prompt', '/v1/completions', { ...ok, prompt: '' }, 400, 'prompt'],
  ['negative temperature', '/v1/completions', { ...ok, temperature: -1 }, 400, 'temperature'],
  ['temperature as text', '/v1/completions', { ...ok, temperature: 'hot' }, 400, 'temperature'],
  ['top_p 0', '/v1/completions', { ...ok, top_p: 0 }, 400, 'top_p'],
  ['min_p above 1', '/v1/completions', { ...ok, min_p: 3 }, 400, 'min_p'],
  ['n 0', '/v1/completions', { ...ok, n: 0 }, 400, 'n'],
  ['n above the slots', '/v1/completions', { ...ok, n: 5 }, 400, 'n'],
  ['absurd max_tokens', '/v1/completions', { ...ok, max_tokens: 1e12 }, 400, 'max_tokens', 'context_length_exceeded'],
  ['negative seed', '/v1/completions', { ...ok, seed: -3 }, 400, 'seed'],
  ['empty stop string', '/v1/completions', { ...ok, stop: '' }, 400, 'stop'],
  ['logprobs 50', '/v1/completions', { ...ok, logprobs: 50 }, 400, 'logprobs'],
  ['presence_penalty', '/v1/completions', { ...ok, presence_penalty: 1 }, 400, 'presence_penalty', 'unsupported_parameter'],
  ['chat without a template', '/v1/chat/completions', chat, 400, 'messages', 'no_chat_template'],
  ['chat without messages', '/v1/chat/completions', { ...chat, messages: [] }, 400, 'messages'],
  ['chat with an unknown role', '/v1/chat/completions', { ...chat, messages: [{ role: 'wizard', content: 'x' }] }, 400, 'messages.0.role'],
  ['detokenize an id outside the vocabulary', '/detokenize', { tokens: [1, 99999] }, 400, 'tokens', 'invalid_token_id'],
  ['unknown slot', '/slots/99?action=erase', {}, 404, 'id', 'slot_not_found'],
  ['unknown slot action', '/slots/0?action=explode', {}, 400, 'querystring.action'],
  ['slot file without --state-cache-dir', '/slots/0?action=save', { filename: 'x' }, 400, null, 'no_slot_dir'],
];

for (const [what, path, body, status, param, code] of cases) {
  test(`${what}: ${status}${param ? ` naming ${param}` : ''}`, async () => {
    const r = await post(`${s.url}${path}`, body);
    assert.equal(r.status, status, JSON.stringify(r.json));
    const e = r.json.error;
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length > 0);
    assert.equal(e.type, status === 404 || status === 400 ? 'invalid_request_error' : e.type);
    assert.equal(e.param, param);
    if (code) assert.equal(e.code, code);
  });
}

test('the openai client sees a 400 as BadRequestError naming the field', async () => {
  await assert.rejects(s.client.completions.create({ ...ok, temperature: 5 }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.status, 400);
    assert.equal(e.param, 'temperature');
    return true;
  });
});

test('--api-key: a missing or wrong key is a 401, the right one passes, /health is open', async () => {
  const k = await serve(MAMBA2, { apiKey: 'sekret' });
  try {
    const wrong = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: 'guess', maxRetries: 0 });
    await assert.rejects(wrong.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    const none = await post(`${k.url}/v1/completions`, ok);
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'invalid_api_key');
    const right = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: 'sekret', maxRetries: 0 });
    assert.deepEqual((await right.models.list()).data.map((m) => m.id), [MODEL]);
    assert.equal((await fetch(`${k.url}/health`)).status, 200);
  } finally {
    await k.close();
  }
});

/** A streaming request that runs long; resolves once its first chunk came. */
async function longStream(url: string, maxTokens: number) {
  const abort = new AbortController();
  const r = await fetch(`${url}/v1/completions`, {
    method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: 'state', max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true }),
  });
  assert.equal(r.status, 200);
  const reader = r.body!.getReader();
  let text = '';
  const decoder = new TextDecoder();
  while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value);
  /** the rest of the stream, to its end */
  const rest = async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value);
    }
  };
  return { abort: () => abort.abort(), rest };
}

test('a client that disconnects mid-stream frees its slot at once; the queue overflows with 429 + Retry-After', async () => {
  const q = await serve(MAMBA2, { maxBatch: 1, maxQueue: 1 });
  try {
    const a = await longStream(q.url, 1500);
    const b = post(`${q.url}/v1/completions`, ok);   // waits for the slot
    await eventually(async () => (await metric(q.url, 'mamba_ts_queue_depth')) === 1, 'a queued request');
    const c = await post(`${q.url}/v1/completions`, ok);
    assert.equal(c.status, 429);
    assert.equal(c.headers.get('retry-after'), '1');
    assert.equal(c.json.error.code, 'queue_full');
    a.abort();
    assert.equal((await b).status, 200);
    await eventually(async () => (await metric(q.url, 'mamba_ts_slots_busy')) === 0, 'all slots idle');
    // the aborted stream stopped long before its 1500 tokens
    assert.ok((await metric(q.url, 'mamba_ts_decode_tokens_total')) < 1000);
  } finally {
    await q.close();
  }
});

test('mamba-ts serve: SIGTERM finishes the stream in flight, refuses new requests, exits 0', async () => {
  const { child, done } = cliChild(['serve', '--model', MAMBA2, '--port', '0']);
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /at (http:\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(`serve exited: ${err}`)));
  });
  const name = MAMBA2;
  const a = await (async () => {
    const r = await fetch(`${url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: name, prompt: 'state', max_tokens: 200, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
    });
    const reader = r.body!.getReader();
    const first = await reader.read();
    return { reader, text: new TextDecoder().decode(first.value) };
  })();
  child.kill('SIGTERM');
  await eventually(async () => (await fetch(`${url}/health`)).status === 503, 'draining');
  const refused = await post(`${url}/v1/completions`, { ...ok, model: name });
  assert.equal(refused.status, 503);
  let text = a.text;
  for (;;) {
    const { value, done: end } = await a.reader.read();
    if (end) break;
    text += new TextDecoder().decode(value);
  }
  assert.ok(text.trimEnd().endsWith('data: [DONE]'));
  assert.match(text, /"completion_tokens":200/);
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
});
