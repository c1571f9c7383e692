/**
 * The server on WebGPU (SwiftShader in CI): the hybrid fixture's concurrent requests, a cache
 * hit and an n > 1 fork give the CPU server's ids, and once the requests are done the device
 * holds no more memory in use than before them (states of finished, cancelled and forked
 * sequences all freed).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { complete, HYBRID, promptIds, serve } from './server-util.js';
import { openTestGpu } from './webgpu-util.js';

const { gpu, skip } = await openTestGpu();
after(() => gpu?.destroy());

test('ms-hybrid on WebGPU: the CPU server\'s ids; device memory back where it was', { skip }, async () => {
  const pool = gpu!.rt.pool;
  const inUse = () => pool.allocatedBytes - pool.pooledBytes;
  const run = async (s: Awaited<ReturnType<typeof serve>>) => {
    // small: every new prefill length compiles pipelines, seconds each on SwiftShader
    const prompts = [promptIds(24, 1), promptIds(9, 2)];
    const together = await Promise.all(prompts.map((p) => complete(s.client, p, 5)));
    const hit = await complete(s.client, [...prompts[0].slice(0, 23), 1, 2], 5);
    const forked = await complete(s.client, prompts[1], 4, { n: 3, temperature: 1, seed: 4 });
    return { ids: [...together, hit, forked].map((r) => r.choices.map((c) => c.token_ids)), cached: hit.usage.prompt_tokens_details.cached_tokens };
  };
  const cpu = await serve(HYBRID, { maxBatch: 4, prefillChunk: 8 });
  const want = await run(cpu);
  await cpu.close();
  const s = await serve(HYBRID, { backend: gpu!, maxBatch: 4, prefillChunk: 8 });
  try {
    const before = inUse();
    const got = await run(s);
    await s.server.engine.idle();
    assert.deepEqual(got, want);
    assert.equal(got.cached, 23);
    assert.equal(inUse(), before);
  } finally {
    await s.close();
  }
});
