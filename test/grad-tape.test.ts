import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRecording, noGrad, nodesRecorded, valueAndGrad } from '../src/autograd/index.js';
import * as ops from '../src/ops/index.js';
import { cpu, host } from './cpu-util.js';
import { loadFixture } from './model-util.js';

const sum = (x: ReturnType<typeof cpu.upload>) => ops.linear(x.reshape([1, x.size]), cpu.upload(new Float32Array(x.size).fill(1), [1, x.size]));

test('outside valueAndGrad a whole model forward records nothing', async () => {
  const { model, expected } = await loadFixture('hf/mamba2-tiny');
  const ids = expected.get('input_ids')!;
  const before = nodesRecorded();
  model.forward(cpu.upload(ids.data, ids.shape));
  assert.equal(nodesRecorded(), before);
  assert.equal(isRecording(), false);
});

test('inside valueAndGrad: noGrad results are constants, ops on constants are not recorded', () => {
  const w = cpu.upload(Float32Array.of(1, 2, 3), [3]);
  const x = cpu.upload(Float32Array.of(4, 5, 6), [3]);
  let inside = 0;
  const { loss, grads } = valueAndGrad(() => {
    assert.equal(isRecording(), true);
    const before = nodesRecorded();
    const frozen = noGrad(() => {
      assert.equal(isRecording(), false);
      return ops.mul(w, x);                       // w x, but not a function of w to the tape
    });
    ops.mul(x, x);                                // x is not a parameter: nothing to record
    inside = nodesRecorded() - before;
    return sum(ops.mul(w, frozen));               // Σ w (w x)
  }, new Map([['w', w]]));
  assert.equal(inside, 0);
  assert.equal(isRecording(), false);
  assert.equal(host(loss)[0], 1 * 4 + 2 * 10 + 3 * 18);
  assert.deepEqual([...host(grads.get('w')!)], [4, 10, 18]);   // d/dw of w·c with c = w x held fixed
});

test('a parameter the loss never reads gets zeros; a tensor used twice gets both contributions', () => {
  const a = cpu.upload(Float32Array.of(2, -1), [2]);
  const unused = cpu.upload(Float32Array.of(7), [1]);
  const { grads } = valueAndGrad(() => sum(ops.add(ops.mul(a, a), a)), new Map([['a', a], ['unused', unused]]));
  assert.deepEqual([...host(grads.get('a')!)], [5, -1]);       // 2a + 1
  assert.deepEqual([...host(grads.get('unused')!)], [0]);
});

test('valueAndGrad refuses a loss of more than one element and nested tapes', () => {
  const a = cpu.upload(Float32Array.of(1, 2), [2]);
  assert.throws(() => valueAndGrad(() => ops.mul(a, a), new Map([['a', a]])), /one element/);
  assert.throws(() => valueAndGrad(() => valueAndGrad(() => sum(a), new Map([['a', a]])).loss, new Map([['a', a]])), /nested/);
  assert.equal(isRecording(), false);
});
