/**
 * The public API at its boundary: bad arguments fail at the call with one line naming the
 * argument and the expected shape; a consumed state cannot be reused; `clone()` branches a
 * state into independent copies (CPU and WebGPU), each matching a fresh run.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Backend } from '../src/backend/backend.js';
import { UserError } from '../src/errors.js';
import { generate } from '../src/generate/generate.js';
import { loadModel } from '../src/model/load.js';
import type { MambaLM } from '../src/model/lm.js';
import { ModelState } from '../src/model/state.js';
import { cpu } from './cpu-util.js';
import { FIXTURES, loadFixture } from './model-util.js';
import { openTestGpu } from './webgpu-util.js';

const { model } = await loadFixture('hf/mamba2-tiny');
const { model: other } = await loadFixture('hf/mamba1-tiny');
const { model: hybrid } = await loadFixture('mamba_ssm/ms-hybrid'); // vocabulary 300 padded to 304
const { gpu, skip } = await openTestGpu();
after(() => gpu?.destroy());

const fails = (fn: () => unknown, message: string) => assert.throws(fn, (e: unknown) => e instanceof UserError && e.message === message);

test('forward/step: arrays, wrong rank or dtype are named with the expected shape', () => {
  fails(() => model.forward(cpu.upload(Int32Array.of(1, 2, 3, 4, 5), [5])),
    'MambaLM.forward(ids): expected an int32 tensor [B, L], got a 1-D int32 tensor [5]');
  fails(() => model.forward([[1, 2]] as never),
    'MambaLM.forward(ids): expected an int32 tensor [B, L], got an array of 1 arrays (make one with model.ids(rows) or backend.upload(Int32Array, shape))');
  fails(() => model.forward(cpu.upload(new Float32Array(2), [1, 2])),
    'MambaLM.forward(ids): expected an int32 tensor [B, L], got a 2-D float32 tensor [1, 2]');
  fails(() => model.forward(cpu.upload(new Int32Array(0), [1, 0])),
    'MambaLM.forward(ids): expected an int32 tensor [B, L] with no empty dimension, got [1, 0]');
  const state = model.initState(2);
  fails(() => model.step(model.ids([[1, 2]]), state), 'MambaLM.step(ids): expected an int32 tensor [B], got a 2-D int32 tensor [1, 2]');
  fails(() => model.step(model.stepIds([1]), state), 'MambaLM.step(ids, state): the state holds 2 sequences, the ids 1');
  fails(() => model.step(model.stepIds([1, 2]), undefined as never),
    'MambaLM.step(ids, state): expected a ModelState (model.initState(B) or a returned state), got undefined');
  fails(() => model.step(model.stepIds([1, 2]), other.initState(2)),
    'MambaLM.step(ids, state): the state is not one of this model (layer 0 is mamba1 conv [*, 128, 3] ssm [*, 128, 16], the model\'s mamba2 conv [*, 160, 3] ssm [*, 8, 16, 16])');
  fails(() => model.initState(0), 'MambaLM.initState(batch): expected an integer >= 1, got a number (0)');
});

test('ids, stepIds, readLogits: rows checked against the vocabulary; logits trimmed to it', async () => {
  fails(() => model.ids([1, 2] as never), 'MambaLM.ids(rows): expected a non-empty array of token id arrays, got an array of 2 numbers (one sequence is [ids])');
  fails(() => model.ids([[1, 2], [3]]), 'MambaLM.ids(rows): row 1 has 1 ids, row 0 2; rows must be non-empty and of one length (generate() takes prompts of different lengths)');
  fails(() => model.ids([[1, 300]]), 'MambaLM.ids(rows) row 0: item 1 is 300, not a token id in [0, 300)');
  fails(() => hybrid.stepIds([1.5]), 'MambaLM.stepIds(ids): item 0 is 1.5, not a token id in [0, 304)');
  const ids = hybrid.ids([[1, 2, 3], [4, 5, 303]]);
  assert.deepEqual(ids.shape, [2, 3]);
  assert.deepEqual([...(await ids.read())], [1, 2, 3, 4, 5, 303]);
  const { logits } = hybrid.forward(ids);
  const all = (await logits.read()) as Float32Array;
  const V = hybrid.vocabPadded;
  assert.equal(V, 304);
  const [last0, last1] = await hybrid.readLogits(logits);
  assert.equal(last0.length, 300);
  assert.deepEqual(last0, all.slice(2 * V, 2 * V + 300));
  assert.deepEqual(last1, all.slice(5 * V, 5 * V + 300));
  assert.deepEqual((await hybrid.readLogits(logits, 0))[1], all.slice(3 * V, 3 * V + 300));
  await assert.rejects(hybrid.readLogits(logits, 3), /^UserError: MambaLM\.readLogits\(position\): 3 is outside the 3 positions$/);
  await assert.rejects(model.readLogits(logits), /^UserError: MambaLM\.readLogits\(logits\): the last dimension is 304, this model's padded vocabulary 300$/);
});

test('a consumed state fails when passed again; clone, concatBatch and selectBatch of it too', () => {
  const { state } = model.forward(model.ids([[1, 2, 3]]));
  model.step(model.stepIds([4]), state);
  const again = 'MambaLM.step(ids, state): this state was already advanced by an earlier forward/step; continue from the state that call returned, or clone() a state before stepping it to branch';
  fails(() => model.step(model.stepIds([4]), state), again);
  assert.throws(() => state.clone(), /^UserError: ModelState\.clone: this state was already advanced/);
  assert.throws(() => state.selectBatch([0]), /^UserError: ModelState\.selectBatch: this state was already advanced/);
  assert.throws(() => ModelState.concatBatch([model.initState(1), state]), /^UserError: ModelState\.concatBatch\(states\[1\]\): this state was already advanced/);
});

test('generate: a flat prompt, a missing model or options are named', () => {
  fails(() => generate(model, [1, 2] as never, { maxNewTokens: 1, temperature: 0 }),
    'generate(prompts): expected an array of prompts, each an array of token ids, got an array of 2 numbers (one prompt is [ids])');
  fails(() => generate({} as MambaLM, [[1]], { maxNewTokens: 1, temperature: 0 }), 'generate(model): expected a MambaLM (loadModel), got an object');
  fails(() => generate(model, [[1]], undefined as never), 'generate(options): expected an object with maxNewTokens, got undefined');
});

test('loadModel: a missing folder path or backend is named', async () => {
  await assert.rejects(loadModel(undefined as never, cpu), /^UserError: loadModel\(dir\): expected the path of a model folder, got undefined$/);
  await assert.rejects(loadModel(join(FIXTURES, 'hf/mamba2-tiny'), 'cpu' as never),
    /^UserError: loadModel\(dir, backend\): expected a backend \(await createBackend\('cpu' \| 'webgpu'\)\), got a string \(cpu\)$/);
});

/** From `state` (consumed) and token `first`, `n` greedy steps: the ids and the last logits. */
async function continueGreedy(m: MambaLM, state: ModelState, first: number, n: number): Promise<{ ids: number[]; last: Float32Array }> {
  const ids: number[] = [];
  let id = first;
  let last: Float32Array = new Float32Array();
  for (let i = 0; i < n; i++) {
    const r = m.step(m.stepIds([id]), state);
    state = r.state;
    [last] = await m.readLogits(r.logits);
    id = last.indexOf(Math.max(...last));
    ids.push(id);
  }
  return { ids, last };
}

async function branches(be: Backend): Promise<void> {
  const m = await loadModel(join(FIXTURES, 'hf/mamba2-tiny'), be);
  const prompt = [5, 17, 42, 7];
  const { state } = m.forward(m.ids([prompt]));
  const copy = state.clone();
  // two branches that differ from their first token on
  const a = await continueGreedy(m, state, 11, 6);
  const b = await continueGreedy(m, copy, 250, 6);
  const fresh = async (first: number) => continueGreedy(m, m.forward(m.ids([prompt])).state, first, 6);
  assert.deepEqual(a, await fresh(11));
  assert.deepEqual(b, await fresh(250));
  assert.notDeepEqual(a.ids, b.ids);
  assert.ok(Math.max(...a.last.map((v, i) => Math.abs(v - b.last[i]))) > 1e-3);
}

test('clone on the CPU: two branches diverge independently, each = a fresh run', () => branches(cpu));
test('clone on WebGPU: two branches diverge independently, each = a fresh run', { skip }, () => branches(gpu!));
