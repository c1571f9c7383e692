/**
 * The reference fixtures (test/fixtures) on the WebGPU backend: each checkpoint loaded with
 * loadModel, whole-sequence `forward` and token-by-token `step` logits within 1e-3 max abs of the
 * float64 references (DESIGN.md: WebGPU tolerance), and greedy decoding with the device argmax
 * equal to `greedy_ids`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { HostTensor } from '../src/io/host-tensor.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { greedyTokens } from '../src/backend/index.js';
import { disposeExcept, tidy } from '../src/backend/scope.js';
import { loadModel } from '../src/model/load.js';
import type { Tensor } from '../src/tensor.js';
import { maxAbsDiff } from './cpu-util.js';
import { FIXTURES } from './model-util.js';
import { openTestGpu } from './webgpu-util.js';

const { gpu, skip } = await openTestGpu();
after(() => gpu?.destroy());

const FIXTURE_NAMES = ['hf/mamba1-tiny', 'hf/mamba1-tied-residual32', 'hf/mamba2-tiny', 'hf/nemotronh-tiny', 'hf/llama-tiny',
  'mamba_ssm/ms-mamba1', 'mamba_ssm/ms-mamba2-g2', 'mamba_ssm/ms-hybrid'];
const TOL = 1e-3;

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

for (const name of FIXTURE_NAMES) {
  test(`webgpu ${name}: forward and step logits match the reference; greedy ids`, { skip }, async (t) => {
    const be = gpu!;
    const dir = join(FIXTURES, name);
    const model = await loadModel(dir, be);
    const expected = readSafetensors(join(dir, 'expected.safetensors'));
    const ids = expected.get('input_ids') as HostTensor;
    const want = expected.get('logits')!.data as Float32Array;
    const [B, L] = ids.shape;
    const V = model.vocabPadded;

    const fwd = model.forward(be.upload(ids.data, [B, L]));
    assert.deepEqual(fwd.logits.shape, [B, L, V]);
    const fwdErr = maxAbsDiff(await fwd.logits.read(), want);

    // every step is recorded before anything is read back: one submission for the whole sequence
    let state = model.initState(B, L);
    const perStep = [];
    for (let l = 0; l < L; l++) {
      const col = Int32Array.from({ length: B }, (_, b) => ids.data[b * L + l]);
      const out = model.step(be.upload(col, [B]), state);
      state = out.state;
      perStep.push(out.logits);
    }
    const stepped = new Float32Array(B * L * V);
    for (let l = 0; l < L; l++) {
      const row = await perStep[l].read();
      for (let b = 0; b < B; b++) stepped.set(row.subarray(b * V, (b + 1) * V), (b * L + l) * V);
    }
    const stepErr = maxAbsDiff(stepped, want);
    t.diagnostic(`max abs error: forward ${fwdErr.toExponential(2)}, step ${stepErr.toExponential(2)}`);
    assert.ok(fwdErr < TOL, `forward error ${fwdErr}`);
    assert.ok(stepErr < TOL, `step error ${stepErr}`);

    // greedy decoding as a generation loop runs it on the GPU (see src/backend/index.ts)
    const greedy = expected.get('greedy_ids');
    if (greedy) {
      const n = greedy.data.length;
      const prompt = be.upload(ids.data.slice(0, L), [1, L]);
      const first = tidy(() => model.forward(prompt, model.initState(1, L + n)));
      let s = first.state;
      let next: Tensor = be.upload(Int32Array.of(argmax((await first.logits.read()).subarray((L - 1) * V, L * V))), [1]);
      const got = [...(await next.read())];
      while (got.length < n) {
        const out = tidy(() => model.step(next, s));
        disposeExcept([s, next], out.state);
        s = out.state;
        next = await greedyTokens(out.logits, model.config.vocabSize);
        got.push(...(await next.read()));
      }
      assert.deepEqual(got, [...greedy.data]);
    }
  });
}
