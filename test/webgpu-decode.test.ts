/**
 * What fast decoding on WebGPU rests on: the device argmax (greedyTokens), tidy scopes that give
 * a step's intermediates back to the pool, and a step recorded without any submission (one
 * command buffer, nothing read back mid-step) that allocates nothing once the loop is warm.
 * webgpu-models.test.ts runs the same loop against the reference greedy ids.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { greedyTokens } from '../src/backend/index.js';
import { disposeExcept, tidy } from '../src/backend/scope.js';
import type { HostTensor } from '../src/io/host-tensor.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadModel } from '../src/model/load.js';
import type { GpuTensor } from '../src/backend/webgpu/buffer-pool.js';
import type { Tensor } from '../src/tensor.js';
import { cpu } from './cpu-util.js';
import { FIXTURES } from './model-util.js';
import { openTestGpu } from './webgpu-util.js';

const { gpu, skip } = await openTestGpu();
after(() => gpu?.destroy());

test('webgpu argmax: first of ties, NaN never wins, padded columns ignored, -inf rows', { skip }, async () => {
  const be = gpu!;
  const V = 700; // several strided passes of the 256-lane workgroup
  const rows = [
    (i: number) => Math.sin(i * 0.37),                       // an ordinary row
    (i: number) => (i === 5 || i === 600 ? 3 : 0),            // a tie: the first wins
    (i: number) => (i === 0 ? NaN : i === 300 ? 2 : 1),       // NaN first, never chosen
    (i: number) => (i === 650 ? 9 : -Infinity),               // the max sits in the padding (vocab 640)
    () => -Infinity,                                          // nothing finite: index 0
  ];
  const logits = new Float32Array(rows.length * V);
  rows.forEach((f, r) => { for (let i = 0; i < V; i++) logits[r * V + i] = f(i); });
  const vocab = 640;
  const want = [...(await (await greedyTokens(cpu.upload(logits, [rows.length, V]), vocab)).read())];
  const got = await be.argmax(be.upload(logits, [rows.length, V]), vocab).read();
  assert.deepEqual([...got], want);
  assert.deepEqual(want.slice(1), [5, 300, 0, 0]);
  assert.throws(() => be.argmax(be.zeros([2, 4]), 5), /vocab 5/);
});

test('webgpu tidy disposes what the result does not hold; kept tensors move to the outer scope', { skip }, async () => {
  const be = gpu!;
  const x = be.upload(Float32Array.from([1, 2, 3]), [3]);
  let inner: GpuTensor | undefined;
  let dropped: GpuTensor | undefined;
  const out = tidy(() => {
    const kept = tidy(() => {
      dropped = be.exp(x) as GpuTensor;
      inner = be.add(dropped, x) as GpuTensor;
      return { pair: [inner.reshape([1, 3])] };
    });
    assert.ok(dropped!.disposed, 'a temporary of the inner scope is freed when it ends');
    return new Map([['y', be.mul(kept.pair[0].reshape([3]), x)]]);
  });
  assert.ok(inner!.disposed, 'an inner result the outer result does not hold is freed with the outer scope');
  assert.ok(!x.disposed, 'tensors made outside every scope are left alone');
  const e = Math.E;
  const y = await out.get('y')!.read();
  assert.ok(Math.abs(y[1] - (e * e + 2) * 2) < 1e-4);
});

test('webgpu a model step records without submitting; the decode loop reuses its buffers', { skip }, async () => {
  const be = gpu!;
  const dir = join(FIXTURES, 'mamba_ssm/ms-hybrid');   // Mamba-2, attention and MLP layers
  const model = await loadModel(dir, be);
  const ids = readSafetensors(join(dir, 'expected.safetensors')).get('input_ids') as HostTensor;
  const L = 9;
  const B = 2;
  const prompt = be.upload(Int32Array.from({ length: B * L }, (_, i) => ids.data[i]), [B, L]);
  let { logits, state } = model.forward(prompt, model.initState(B, L + 8));
  logits.dispose();
  let tokens: Tensor = be.upload(Int32Array.from({ length: B }, (_, b) => ids.data[b * L + L]), [B]);
  const submit = be.rt.device.queue.submit.bind(be.rt.device.queue);
  const created = be.rt.createBuffer.bind(be.rt);
  let submits = 0;
  let buffers = 0;
  be.rt.device.queue.submit = (c: Iterable<GPUCommandBuffer>) => { submits++; submit(c); };
  be.rt.createBuffer = (...a: Parameters<typeof created>) => { buffers++; return created(...a); };
  try {
    for (let k = 0; k < 6; k++) {
      if (k === 2) buffers = 0;
      submits = 0;
      const out = tidy(() => model.step(tokens, state));
      assert.equal(submits, 0, 'a step submits nothing; its dispatches wait in one command encoder');
      disposeExcept([state, tokens], out.state);
      state = out.state;
      tokens = await greedyTokens(out.logits, model.config.vocabSize);
      out.logits.dispose();
      assert.equal((await tokens.read()).length, B);
      assert.equal(submits, 1, 'reading the ids submits the whole step at once');
    }
    assert.equal(buffers, 0, 'after two steps, a step allocates nothing: pooled buffers and a kept read-back serve it');
  } finally {
    be.rt.device.queue.submit = submit;
    be.rt.createBuffer = created;
  }
});

test('webgpu long recordings go out in pieces: the GPU starts before the host has recorded everything', { skip }, async () => {
  const be = gpu!;
  const submit = be.rt.device.queue.submit.bind(be.rt.device.queue);
  let submits = 0;
  be.rt.device.queue.submit = (c: Iterable<GPUCommandBuffer>) => { submits++; submit(c); };
  try {
    let x: Tensor = be.upload(Float32Array.from([0.5, -1, 2]), [3]);
    const one = be.upload(Float32Array.from([1, 1, 1]), [3]);
    for (let k = 0; k < 600; k++) {
      const next = be.add(x, one);
      x.dispose();
      x = next;
    }
    assert.ok(submits >= 2, `600 dispatches were submitted in ${submits} pieces before any read`);
    assert.deepEqual([...(await x.read())], [600.5, 599, 602]);
    x.dispose();
    one.dispose();
  } finally {
    be.rt.device.queue.submit = submit;
  }
});
