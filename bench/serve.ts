/**
 * `mamba-ts serve` on the CPU with a small random-weight Mamba-2 (the mamba2-130m layer shapes,
 * 4 layers, byte vocabulary: ~15M parameters, 3.3 MB of state a sequence):
 *   - aggregate decode tokens/s at 1, 4 and 16 concurrent streaming requests (greedy, 64-token
 *     prompts, 32 new tokens each): end to end (all new tokens / wall time from sending to the
 *     last [DONE]) and the engine's (decode tokens / time in batched steps, from /metrics);
 *   - time to first token of a request sharing a 2,000-token prefix with the one before it, on a
 *     server without the prefix-state cache and on one with it (the second request resumes at
 *     the last every-512 snapshot, the third where the second branched off the first).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/serve.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend, releaseBackend } from '../src/backend/open.js';
import { writeCheckpoint } from '../src/io/checkpoint.js';
import { preset, randomWeights } from '../src/model/presets.js';
import { startServer, type RunningServer } from '../src/server/server.js';

const NEW_TOKENS = 32;
const PREFIX = 2000;

function ids(n: number, seed: number): number[] {
  let x = seed * 2654435761 >>> 0;
  return Array.from({ length: n }, () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16) % 256);
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? NaN);
}

/** a streaming completion; ms to the first token and to the end */
async function stream(url: string, prompt: number[], maxTokens: number): Promise<{ first: number; total: number; cached: number }> {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'bench', prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
  });
  const reader = r.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let first = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (!first) first = performance.now() - t0;
    text += decoder.decode(value);
  }
  const cached = Number(/"cached_tokens":(\d+)/.exec(text)?.[1] ?? NaN);
  return { first, total: performance.now() - t0, cached };
}

async function withServer<T>(dir: string, stateCacheMb: number, run: (s: RunningServer) => Promise<T>): Promise<T> {
  const backend = await createBackend('cpu');
  const s = await startServer({ modelDir: dir, modelName: 'bench', backend, port: 0, maxBatch: 16, maxModelLen: PREFIX + 128, stateCacheMb });
  try {
    return await run(s);
  } finally {
    await s.drain();
    releaseBackend(backend);
  }
}

const base = preset('mamba2-130m');
const config = { ...base, vocabSize: 256, layers: base.layers.slice(0, 4) };
const dir = mkdtempSync(join(tmpdir(), 'mamba-ts-bench-serve-'));
writeCheckpoint(dir, config, randomWeights(config, 0));
console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load average ${loadavg()[0].toFixed(2)}; node ${process.version}`);

await withServer(dir, 0, async (s) => {
  await stream(s.url, ids(64, 999), 4);   // warm-up: kernels compiled, pool started
  console.log('\nconcurrency | end-to-end tok/s | engine decode tok/s | ms per step');
  for (const c of [1, 4, 16]) {
    const t0 = performance.now();
    const [tok0, sec0, steps0] = [await metric(s.url, 'mamba_ts_decode_tokens_total'), await metric(s.url, 'mamba_ts_decode_seconds_total'), await metric(s.url, 'mamba_ts_decode_batch_size_count')];
    await Promise.all(Array.from({ length: c }, (_, i) => stream(s.url, ids(64, i + 1), NEW_TOKENS)));
    const wall = (performance.now() - t0) / 1000;
    const tok = (await metric(s.url, 'mamba_ts_decode_tokens_total')) - tok0;
    const sec = (await metric(s.url, 'mamba_ts_decode_seconds_total')) - sec0;
    const steps = (await metric(s.url, 'mamba_ts_decode_batch_size_count')) - steps0;
    console.log(`${String(c).padStart(11)} | ${(c * NEW_TOKENS / wall).toFixed(1).padStart(16)} | ${(tok / sec).toFixed(1).padStart(19)} | ${(1000 * sec / steps).toFixed(1).padStart(11)}`);
  }
});

const prefix = ids(PREFIX, 7);
const family = (i: number) => [...prefix, ...ids(20, 100 + i)];
for (const mb of [0, 512]) {
  await withServer(dir, mb, async (s) => {
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await stream(s.url, family(i), 1));
    const label = mb ? 'with the cache   ' : 'without the cache';
    console.log(`\nTTFT, 2,000-token shared prefix, ${label}: ` + runs.map((r, i) => `request ${i + 1}: ${r.first.toFixed(0)} ms (cached_tokens ${r.cached})`).join('; '));
  });
}
rmSync(dir, { recursive: true, force: true });
