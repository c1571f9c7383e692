import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostTensor } from '../src/io/host-tensor.js';
import { cpu, host, maxAbsDiff } from './cpu-util.js';
import { loadFixture } from './model-util.js';

const FIXTURE_NAMES = ['hf/mamba1-tiny', 'hf/mamba1-tied-residual32', 'hf/mamba2-tiny', 'hf/nemotronh-tiny', 'hf/llama-tiny',
  'mamba_ssm/ms-mamba1', 'mamba_ssm/ms-mamba2-g2', 'mamba_ssm/ms-hybrid'];
const TOL = 1e-4;

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

for (const name of FIXTURE_NAMES) {
  test(`${name}: forward and step logits match the reference; greedy ids`, async (t) => {
    const { model, expected } = await loadFixture(name);
    const ids = expected.get('input_ids') as HostTensor;
    const want = expected.get('logits')!.data as Float32Array;
    const [B, L] = ids.shape;
    const V = model.vocabPadded;
    assert.equal(V, expected.get('logits')!.shape[2]);

    const fwd = model.forward(cpu.upload(ids.data, [B, L]));
    assert.deepEqual(fwd.logits.shape, [B, L, V]);
    const fwdErr = maxAbsDiff(host(fwd.logits), want);

    let state = model.initState(B, L);
    const stepped = new Float32Array(B * L * V);
    for (let l = 0; l < L; l++) {
      const col = Int32Array.from({ length: B }, (_, b) => ids.data[b * L + l]);
      const out = model.step(cpu.upload(col, [B]), state);
      state = out.state;
      for (let b = 0; b < B; b++) stepped.set(host(out.logits).subarray(b * V, (b + 1) * V), (b * L + l) * V);
    }
    const stepErr = maxAbsDiff(stepped, want);
    t.diagnostic(`max abs error: forward ${fwdErr.toExponential(2)}, step ${stepErr.toExponential(2)}`);
    assert.ok(fwdErr < TOL, `forward error ${fwdErr}`);
    assert.ok(stepErr < TOL, `step error ${stepErr}`);

    const greedy = expected.get('greedy_ids');
    if (greedy) {
      const n = greedy.data.length;
      const prompt = cpu.upload(ids.data.slice(0, L), [1, L]);
      let { logits, state: s } = model.forward(prompt, model.initState(1, L + n));
      let next = argmax(host(logits).subarray((L - 1) * V, L * V));
      const got = [next];
      while (got.length < n) {
        ({ logits, state: s } = model.step(cpu.upload(Int32Array.of(next), [1]), s));
        next = argmax(host(logits));
        got.push(next);
      }
      assert.deepEqual(got, [...greedy.data]);
    }
  });
}
