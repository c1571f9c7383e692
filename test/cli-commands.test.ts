/**
 * The CLI's other forms: generate as text (byte-level fallback) and with sampling flags, bench
 * (model and matmul) as JSON, info, all on the small fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ByteTokenizer } from '../src/text/byte-level.js';
import { cli, FIXTURES, ROOT, tempDir } from './cli-util.js';
import { loadFixture } from './model-util.js';

const TINY = `${FIXTURES}/hf/mamba1-tiny`;
const HYBRID = `${FIXTURES}/mamba_ssm/ms-hybrid`;

const ids = (stdout: string) => stdout.trim().split(',').map(Number);

test('generate --prompt text without tokenizer.json: UTF-8 bytes in, decoded bytes out', () => {
  const asIds = cli('generate', '--model', TINY, '--prompt-ids', '72,105', '--temperature', '0', '--max-new-tokens', '8', '--ids-only');
  assert.equal(asIds.code, 0, asIds.stderr);
  const text = cli('generate', '--model', TINY, '--prompt', 'Hi', '--temperature', '0', '--max-new-tokens', '8');
  assert.equal(text.code, 0, text.stderr);
  const want = new ByteTokenizer().decode(ids(asIds.stdout));
  assert.equal(text.stdout, want.endsWith('\n') ? want : want + '\n');
  const err = text.stderr.trim().split('\n');
  assert.equal(err.length, 2);
  assert.match(err[0], /has no tokenizer\.json; using the byte-level tokenizer/);
  assert.match(err[1], /^mamba-ts: 8 new tokens; prefill 2 tokens in [\d.]+ s \([\d.]+ tokens\/s\); decode 7 tokens/);
});

test('generate with a tokenizer.json whose ids exceed the model: the id and the range are named', () => {
  const dir = tempDir();
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(resolve(ROOT, TINY, f), join(dir, f));
  copyFileSync(join(FIXTURES, 'tokenizers/gpt-neox-20b/tokenizer.json'), join(dir, 'tokenizer.json'));
  const r = cli('generate', '--model', dir, '--prompt', 'Hey how', '--max-new-tokens', '2');
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "mamba-ts: --prompt: token id 8262 (item 1) is outside the model's vocabulary [0, 300)\n");
});

test('generate: sampling flags reproduce with a seed; a stop id ends the output', () => {
  const args = ['generate', '--model', HYBRID, '--prompt-ids', '3,1,4,1,5', '--ids-only', '--max-new-tokens', '12',
    '--temperature', '0.9', '--top-k', '40', '--top-p', '0.9', '--min-p', '0.01', '--repetition-penalty', '1.3'];
  const a = cli(...args, '--seed', '7');
  const b = cli(...args, '--seed', '7');
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  const got = ids(a.stdout);
  assert.equal(got.length, 12);
  assert.ok(got.every((id) => Number.isInteger(id) && id >= 0 && id < 300));
  const stop = got[5];
  const cut = got.indexOf(stop);
  const stopped = cli(...args, '--seed', '7', '--stop-ids', `${stop}`);
  assert.deepEqual(ids(stopped.stdout), got.slice(0, cut + 1));
});

test('bench --json on a model folder', () => {
  const r = cli('bench', '--model', HYBRID, '--batch', '2', '--prompt', '8', '--new-tokens', '3', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(
    { model: j.model, device: j.device, params: j.params, batch: j.batch, prompt: j.prompt, new_tokens: j.new_tokens, state: j.state_bytes_per_sequence },
    // 3 Mamba-2 layers: conv 160 channels × 3 + SSM 8 heads × 16 × 16 (2528 floats); attention: K and V of
    // 8 + 3 positions × 2 KV heads × 16 + the length (705 floats); 4 bytes each
    { model: HYBRID, device: 'cpu', params: 234344, batch: 2, prompt: 8, new_tokens: 3, state: 4 * (3 * 2528 + 705) },
  );
  assert.ok((j.prefill_tokens_per_s as number) > 0 && (j.decode_tokens_per_s as number) > 0);
});

test('bench --op matmul --json', () => {
  const r = cli('bench', '--op', 'matmul', '--m', '3', '--n', '40', '--k', '17', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, number>;
  assert.deepEqual([j.m, j.n, j.k], [3, 40, 17]);
  assert.ok(j.gflops > 0 && j.ms > 0);
});

test('info: layers by kind, parameter count and state bytes', async () => {
  const { model } = await loadFixture('mamba_ssm/ms-hybrid');
  const r = cli('info', '--model', HYBRID, '--max-len', '100');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /layers: +4: 3 × mamba2 \(N=16, 8 heads of 16, 1 group, chunk 16\), 1 × attention \(4 heads, 2 KV heads of 16\); gated MLP \(128\) in 4/);
  assert.match(r.stdout, new RegExp(`parameters: +${model.paramCount().toLocaleString('en-US')}\n`));
  assert.match(r.stdout, new RegExp(`state bytes per sequence: ${model.stateBytesPerSequence(100).toLocaleString('en-US')} \\(KV caches of 100 tokens\\)`));
  assert.match(r.stdout, /vocabulary: +300 \(padded to 304\)/);
});
