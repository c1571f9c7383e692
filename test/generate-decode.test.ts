/**
 * The decode loop on the reference fixtures: greedy equals the reference greedy_ids, a batch of
 * prompts of different lengths equals each prompt alone, stop ids end one sequence without
 * disturbing the others, seeds reproduce, padded vocabulary rows are never produced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, generateAll } from '../src/generate/generate.js';
import type { ModelConfig } from '../src/config.js';
import { MambaLM } from '../src/model/lm.js';
import { randomWeights } from '../src/model/presets.js';
import { uploadWeights } from '../src/model/weights.js';
import { cpu, host } from './cpu-util.js';
import { loadFixture } from './model-util.js';

async function promptsOf(name: string) {
  const { model, expected } = await loadFixture(name);
  const ids = expected.get('input_ids')!;
  const L = ids.shape[1];
  const row = (b: number) => [...ids.data.subarray(b * L, (b + 1) * L)];
  return { model, expected, row };
}

for (const name of ['hf/mamba1-tiny', 'hf/mamba1-tied-residual32', 'hf/mamba2-tiny']) {
  test(`${name}: greedy generateAll equals greedy_ids`, async () => {
    const { model, expected, row } = await promptsOf(name);
    const greedy = [...expected.get('greedy_ids')!.data];
    const { ids, stats } = await generateAll(model, [row(0)], { maxNewTokens: greedy.length, temperature: 0 });
    assert.deepEqual(ids, [greedy]);
    assert.equal(stats.prefillTokens, row(0).length);
    assert.equal(stats.decodeTokens, greedy.length - 1);
  });
}

for (const name of ['hf/mamba2-tiny', 'mamba_ssm/ms-hybrid', 'mamba_ssm/ms-mamba1']) {
  test(`${name}: a batch of prompts of different lengths decodes as each alone (greedy)`, async () => {
    const { model, row } = await promptsOf(name);
    const prompts = [row(0), row(1).slice(0, 11), row(1).slice(5, 30)];
    const opts = { maxNewTokens: 10, temperature: 0 };
    const alone = [];
    for (const p of prompts) alone.push((await generateAll(model, [p], opts)).ids[0]);
    const { ids, stats } = await generateAll(model, prompts, opts);
    assert.deepEqual(ids, alone);
    assert.equal(stats.prefillTokens, prompts[0].length + 11 + 25);
    assert.equal(stats.decodeTokens, 3 * 9);
  });
}

test('a stop id ends its sequence (included), the others go on unchanged', async () => {
  const { model, row } = await promptsOf('mamba_ssm/ms-hybrid');
  const prompts = [row(0), row(1).slice(0, 15)];
  const opts = { maxNewTokens: 12, temperature: 0 };
  const free = (await generateAll(model, prompts, opts)).ids;
  const at = free[0].findIndex((id, i) => i >= 2 && !free[1].includes(id));
  assert.ok(at >= 2, `a token of sequence 0 that sequence 1 never makes: ${free}`);
  const stop = free[0][at];
  const cut = free[0].indexOf(stop);
  const run = generate(model, prompts, { ...opts, stopIds: [stop] });
  // steps kept and read only after the run: a later step must not change an earlier one
  const steps = [];
  for await (const s of run) steps.push(s);
  const ids: number[][] = [[], []];
  steps.forEach((s) => s.tokens.forEach((id, b) => id !== null && ids[b].push(id)));
  const finishedAt = steps.findIndex((s) => s.finished[0]);
  assert.ok(steps.slice(cut + 1).every((s) => s.tokens[0] === null));
  assert.deepEqual(ids[0], free[0].slice(0, cut + 1));
  assert.deepEqual(ids[1], free[1]);
  assert.equal(finishedAt, cut);
  assert.equal(run.stats.decodeTokens, cut + 11);
});

test('sampling: the same seed gives the same tokens, another seed others; sequence b uses seed + b', async () => {
  const { model, row } = await promptsOf('mamba_ssm/ms-mamba2-g2');
  const opts = { maxNewTokens: 16, temperature: 1.5, topK: 100, topP: 0.95, seed: 5 };
  const a = (await generateAll(model, [row(0)], opts)).ids[0];
  const b = (await generateAll(model, [row(0)], opts)).ids[0];
  const c = (await generateAll(model, [row(0)], { ...opts, seed: 6 })).ids[0];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const batch = (await generateAll(model, [row(1), row(0)], { ...opts, seed: 4 })).ids;
  assert.deepEqual(batch[1], a);
});

test('padded vocabulary rows are never produced, even with the largest logits', async () => {
  // vocab 200 padded to 256; the real rows of lm_head are zero, the 56 padded ones random:
  // the raw argmax is a padded id, generation must still pick among 0..199
  const mixer = {
    kind: 'mamba1', dState: 4, dConv: 4, expand: 2, dInner: 32, dtRank: 1, convBias: true, bias: false,
    dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4,
  } as const;
  const config: ModelConfig = {
    dModel: 16, vocabSize: 200, padVocabSizeMultiple: 64, tieEmbeddings: false, normEpsilon: 1e-5, residualInFp32: true,
    layers: [{ mixer: { ...mixer } }, { mixer: { ...mixer } }],
  };
  const weights = randomWeights(config, 9);
  const head = weights.get('lm_head.weight')!.data as Float32Array;
  head.fill(0, 0, 200 * 16);
  for (let i = 200 * 16; i < head.length; i++) head[i] *= 100;
  const model = new MambaLM(config, uploadWeights(weights, cpu), cpu);
  assert.equal(model.vocabPadded, 256);
  const logits = host(model.forward(cpu.upload(Int32Array.of(1, 2, 3), [1, 3])).logits).subarray(2 * 256, 3 * 256);
  assert.ok(Math.max(...logits.subarray(200)) > 1, 'a padded row wins the raw argmax');
  const greedy = (await generateAll(model, [[1, 2, 3]], { maxNewTokens: 8, temperature: 0 })).ids[0];
  assert.deepEqual(greedy, new Array(8).fill(0));
  const sampled = (await generateAll(model, [[1, 2, 3]], { maxNewTokens: 50, temperature: 3, seed: 1 })).ids[0];
  assert.ok(sampled.every((id) => id < 200), `${sampled}`);
  assert.ok(new Set(sampled).size > 10);
});

test('prompt ids outside the vocabulary and empty prompts are refused', async () => {
  const { model } = await promptsOf('mamba_ssm/ms-mamba1');
  assert.throws(() => generate(model, [[1, 2], [3, 304]], { maxNewTokens: 1, temperature: 0 }), /prompt 1 token 1 is id 304, outside the model's vocabulary \[0, 304\)/);
  assert.throws(() => generate(model, [[]], { maxNewTokens: 1, temperature: 0 }), /prompt 0 is empty/);
});
