import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostTensor } from '../src/io/host-tensor.js';
import { ModelState } from '../src/model/state.js';
import { cpu, host, maxAbsDiff, sliceL } from './cpu-util.js';
import { loadFixture } from './model-util.js';

function ids2d(ids: HostTensor, b: number, lo: number, hi: number) {
  const L = ids.shape[1];
  return cpu.upload(ids.data.slice(b * L + lo, b * L + hi), [1, hi - lo]);
}

for (const name of ['mamba_ssm/ms-hybrid', 'hf/mamba1-tiny', 'mamba_ssm/ms-mamba2-g2']) {
  test(`${name}: forward over [0, 13) then [13, L) with the carried state = one forward`, async () => {
    const { model, expected } = await loadFixture(name);
    const ids = expected.get('input_ids')!;
    const [B, L] = ids.shape;
    const V = model.vocabPadded;
    const want = expected.get('logits')!.data as Float32Array;
    const up = (lo: number, hi: number) => cpu.upload(Int32Array.from(sliceL(Float32Array.from(ids.data), [B, L], lo, hi)), [B, hi - lo]);
    const first = model.forward(up(0, 13), model.initState(B, L));
    const second = model.forward(up(13, L), first.state);
    assert.ok(maxAbsDiff(host(first.logits), sliceL(want, [B, L], 0, 13)) < 1e-4);
    assert.ok(maxAbsDiff(host(second.logits), sliceL(want, [B, L], 13, L)) < 1e-4);
    assert.equal(second.logits.shape[2], V);
  });
}

test('concatBatch of prompts of different lengths, then step: each sequence matches the reference', async () => {
  const { model, expected } = await loadFixture('mamba_ssm/ms-hybrid');   // has an attention layer
  const ids = expected.get('input_ids')!;
  const want = expected.get('logits')!.data as Float32Array;
  const [, L] = ids.shape;
  const V = model.vocabPadded;
  const prompt = [10, 17];
  const parts = prompt.map((n, b) => model.forward(ids2d(ids, b, 0, n), model.initState(1, L)).state);
  let state = ModelState.concatBatch(parts);
  assert.equal(state.batch, 2);
  for (let k = 0; k < 6; k++) {
    const tok = Int32Array.from(prompt, (n, b) => ids.data[b * L + n + k]);
    const out = model.step(cpu.upload(tok, [2]), state);
    state = out.state;
    for (let b = 0; b < 2; b++) {
      const pos = prompt[b] + k;
      const ref = want.subarray((b * L + pos) * V, (b * L + pos + 1) * V);
      assert.ok(maxAbsDiff(host(out.logits).subarray(b * V, (b + 1) * V), ref) < 1e-4, `seq ${b} pos ${pos}`);
    }
  }
  // selectBatch reorders and repeats; the picked rows go on as their sources would
  const picked = state.selectBatch([1, 0, 1]);
  const tok = Int32Array.from([1, 0, 1], (b) => ids.data[b * L + prompt[b] + 6]);
  const out = model.step(cpu.upload(tok, [3]), picked);
  for (const [row, b] of [[0, 1], [1, 0], [2, 1]]) {
    const pos = prompt[b] + 6;
    assert.ok(maxAbsDiff(host(out.logits).subarray(row * V, (row + 1) * V), want.subarray((b * L + pos) * V, (b * L + pos + 1) * V)) < 1e-4);
  }
  assert.throws(() => state.selectBatch([2]), /outside batch/);
});

test('KV cache overflow is a clear error; maxLen mismatch in concatBatch too', async () => {
  const { model, expected } = await loadFixture('mamba_ssm/ms-hybrid');
  const ids = expected.get('input_ids')!;
  assert.throws(() => model.forward(ids2d(ids, 0, 0, 6), model.initState(1, 5)), /KV cache overflow: sequence 0 has 0 cached tokens \+ 6 new > maxLen 5/);
  const s = model.forward(ids2d(ids, 0, 0, 5), model.initState(1, 5)).state;
  assert.throws(() => model.step(cpu.upload(Int32Array.of(1), [1]), s), /KV cache overflow/);
  assert.throws(() => ModelState.concatBatch([model.initState(1, 5), model.initState(1, 6)]), /different maxLen/);
  // a pure SSM state does not depend on maxLen
  const m1 = (await loadFixture('mamba_ssm/ms-mamba1')).model;
  assert.equal(m1.stateBytesPerSequence(10), m1.stateBytesPerSequence(1000));
  assert.equal(m1.stateBytesPerSequence(), 2 * 4 * 128 * (3 + 16));
  assert.equal(model.stateBytesPerSequence(100) - model.stateBytesPerSequence(50), 4 * 2 * 50 * 2 * 16);
});
