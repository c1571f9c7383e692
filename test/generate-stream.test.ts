/**
 * The streamed steps of a batch are the consumer's to keep: a step yielded earlier does not
 * change while later ones are made, and the kept steps add up to what generateAll returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, generateAll, type GenerationStep } from '../src/generate/generate.js';
import { loadFixture } from './model-util.js';

test('kept steps stay as yielded and join to generateAll (batch of 2, different lengths)', async () => {
  const { model, expected } = await loadFixture('hf/mamba2-tiny');
  const ids = expected.get('input_ids')!;
  const L = ids.shape[1];
  const prompts = [[...ids.data.subarray(0, L)], [...ids.data.subarray(L, L + 9)]];
  const opts = { maxNewTokens: 6, temperature: 0 };
  const steps: GenerationStep[] = [];
  const copies: (number | null)[][] = [];
  for await (const s of generate(model, prompts, opts)) {
    steps.push(s);
    copies.push([...s.tokens]);
  }
  assert.equal(steps.length, 6);
  assert.deepEqual(steps.map((s) => s.tokens), copies);
  const { ids: all } = await generateAll(model, prompts, opts);
  assert.deepEqual([0, 1].map((b) => copies.map((t) => t[b])), all);
  assert.deepEqual(steps.map((s) => s.finished), [...Array(5).fill([false, false]), [true, true]]);
});
