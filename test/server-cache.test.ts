/**
 * The prefix-state cache: a request sharing a long prefix with an earlier one resumes from its
 * state at any token position (cached_tokens > 0) and gives the ids a cacheless server gives;
 * a prompt that branches off a cached one is snapshotted at the branch;
 * the next turn resumes after the whole previous answer; hybrid KV caches travel in the
 * snapshot; n > 1 prefills once; the cache keeps to its byte budget, survives a restart through
 * --state-cache-dir, and slots save, erase and restore their states.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './cli-util.js';
import { complete, HYBRID, MAMBA2, metric, post, promptIds, serve, type TestServer } from './server-util.js';

let plain: TestServer;
let plainHybrid: TestServer;
before(async () => {
  plain = await serve(MAMBA2, { stateCacheMb: 0 });
  plainHybrid = await serve(HYBRID, { stateCacheMb: 0 });
});
after(async () => {
  await plain.close();
  await plainHybrid.close();
});

/** what the cacheless server gives */
const reference = async (prompt: number[], n: number, hybrid = false) => (await complete((hybrid ? plainHybrid : plain).client, prompt, n)).choices[0].token_ids;

for (const [name, dir, hybrid] of [['mamba2-tiny', MAMBA2, false], ['ms-hybrid (attention KV in the state)', HYBRID, true]] as const) {
  test(`${name}: a shared prefix is resumed at any position, same output; the next turn resumes after the answer`, async () => {
    const s = await serve(dir, { snapshotEvery: 128 });
    try {
      const shared = promptIds(301, 7);
      const first = await complete(s.client, shared, 8);
      assert.equal(first.usage.prompt_tokens_details.cached_tokens, 0);
      // resumes from the snapshot after shared[0..300): the last prompt token always runs
      const again = await complete(s.client, shared, 8);
      assert.equal(again.usage.prompt_tokens_details.cached_tokens, 300);
      assert.deepEqual(again.choices[0].token_ids, first.choices[0].token_ids);
      // another continuation of 200 tokens: the longest snapshot is the one at 256 (every 128)
      const other = [...shared.slice(0, 290), ...promptIds(20, 8)];
      const b = await complete(s.client, other, 8);
      assert.equal(b.usage.prompt_tokens_details.cached_tokens, 256);
      assert.deepEqual(b.choices[0].token_ids, await reference(other, 8, hybrid));
      // that prompt branched off the first at 290 and was snapshotted there: a third one of the family resumes there
      const third = [...shared.slice(0, 290), ...promptIds(30, 11)];
      const c = await complete(s.client, third, 8);
      assert.equal(c.usage.prompt_tokens_details.cached_tokens, 290);
      assert.deepEqual(c.choices[0].token_ids, await reference(third, 8, hybrid));
      // the next turn: prompt, answer and more; the state after the answer's 7 fed tokens is kept
      const turn = [...shared, ...first.choices[0].token_ids, ...promptIds(15, 9)];
      const t = await complete(s.client, turn, 8);
      assert.equal(t.usage.prompt_tokens_details.cached_tokens, shared.length + 7);
      assert.deepEqual(t.choices[0].token_ids, await reference(turn, 8, hybrid));
      assert.ok((await metric(s.url, 'mamba_ts_state_cache_hits_total')) >= 3);
    } finally {
      await s.close();
    }
  });
}

test('n > 1 forks one prefill: prompt tokens run once, choices differ by seed', async () => {
  const s = await serve(MAMBA2, { stateCacheMb: 0 });
  try {
    const prompt = promptIds(90, 10);
    const r = await complete(s.client, prompt, 5, { n: 4, temperature: 1, seed: 3 });
    assert.equal(r.choices.length, 4);
    assert.equal(await metric(s.url, 'mamba_ts_prefill_tokens_total'), 90);
    assert.equal(new Set(r.choices.map((c) => c.token_ids.join())).size, 4);
  } finally {
    await s.close();
  }
});

test('the cache keeps to --state-cache-mb, least recently used out first', async () => {
  // mamba2-tiny: 2 layers of conv [1, 160, 3] + ssm [1, 8, 16, 16] = 20,224 bytes a state (+ its tokens)
  const entry = 20_300;
  const s = await serve(MAMBA2, { stateCacheMb: (4.5 * entry) / 2 ** 20 });
  try {
    const prompts = [0, 1, 2].map((i) => promptIds(20, 20 + i));
    // each request leaves two states: before its last prompt token, and after it (max_tokens 1)
    for (const p of prompts) await complete(s.client, p, 1);
    assert.equal(await metric(s.url, 'mamba_ts_state_cache_entries'), 4);
    assert.ok((await metric(s.url, 'mamba_ts_state_cache_bytes')) <= 4.5 * entry);
    const cached = async (i: number) => (await complete(s.client, prompts[i], 1)).usage.prompt_tokens_details.cached_tokens;
    assert.equal(await cached(0), 0);    // the oldest went first; now its states push out those of prompt 1
    assert.equal(await cached(2), 19);   // the last prompt token always runs
    assert.equal(await cached(1), 0);
  } finally {
    await s.close();
  }
});

test('--state-cache-dir: a restarted server resumes from the states of the one before', async () => {
  const dir = tempDir();
  const prompt = promptIds(200, 30);
  const a = await serve(MAMBA2, { stateCacheDir: dir });
  const first = await complete(a.client, prompt, 6);
  await a.close();
  assert.ok(readdirSync(join(dir, 'prefix')).filter((f) => f.endsWith('.safetensors')).length >= 1);
  const b = await serve(MAMBA2, { stateCacheDir: dir });
  try {
    const again = await complete(b.client, prompt, 6);
    assert.equal(again.usage.prompt_tokens_details.cached_tokens, 199);
    assert.deepEqual(again.choices[0].token_ids, first.choices[0].token_ids);
  } finally {
    await b.close();
  }
});

test('slots: save, erase, restore into another slot; a request extending it resumes there', async () => {
  const dir = tempDir();
  // no prefix cache: only the restored slot can provide the state
  const s = await serve(MAMBA2, { stateCacheMb: 0, stateCacheDir: dir, maxBatch: 2 });
  try {
    const prompt = promptIds(60, 40);
    const r = await complete(s.client, prompt, 5);
    const slots = (await (await fetch(`${s.url}/slots`)).json()) as { id: number; kept_tokens: number; is_processing: boolean }[];
    const used = slots.find((x) => x.kept_tokens > 0)!;
    assert.equal(used.kept_tokens, 64);
    const saved = await post(`${s.url}/slots/${used.id}?action=save`, { filename: 'turn.safetensors' });
    assert.equal(saved.status, 200, JSON.stringify(saved.json));
    assert.equal(saved.json.n_saved, 64);
    assert.ok(existsSync(join(dir, 'slots', 'turn.safetensors')));
    assert.equal((await post(`${s.url}/slots/${used.id}?action=erase`, {})).json.n_erased, 64);
    const next = [...prompt, ...r.choices[0].token_ids, ...promptIds(10, 41)];
    assert.equal((await complete(s.client, next, 4)).usage.prompt_tokens_details.cached_tokens, 0);
    // that request left its own state in a slot; erase both, then restore the file into slot 1
    for (const id of [0, 1]) await post(`${s.url}/slots/${id}?action=erase`, {});
    const restored = await post(`${s.url}/slots/1?action=restore`, { filename: 'turn.safetensors' });
    assert.equal(restored.json.n_restored, 64);
    const resumed = await complete(s.client, next, 4);
    assert.equal(resumed.usage.prompt_tokens_details.cached_tokens, 64);
    assert.deepEqual(resumed.choices[0].token_ids, await reference(next, 4));
    const missing = await post(`${s.url}/slots/1?action=restore`, { filename: 'nothing.safetensors' });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error.param, 'filename');
  } finally {
    await s.close();
  }
});
