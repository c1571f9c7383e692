import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sgemm } from '../src/backend/cpu/gemm.js';

test('sgemm 2x2', () => {
  const C = new Float32Array(4);
  sgemm(2, 2, 2, new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), false, C);
  assert.deepEqual([...C], [19, 22, 43, 50]);
});
