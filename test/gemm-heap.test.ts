import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pinWeight, unpinWeight } from '../src/backend/cpu/gemm.js';
import { heapAlloc, heapF32, heapFree, heapInUse, inHeap } from '../src/backend/cpu/wasm/heap.js';

test('heap blocks are 64-byte aligned, freed blocks are reused and neighbours merge', () => {
  const base = heapInUse();
  const [a, b, c] = [heapAlloc(1000), heapAlloc(5000), heapAlloc(300)];
  for (const at of [a, b, c]) assert.equal(at % 64, 0);
  assert.ok(a + 1000 <= b && b + 5000 <= c, 'blocks overlap');
  heapFree(b);
  assert.equal(heapAlloc(4000), b, 'first fit reuses the freed block');
  heapFree(b);
  heapFree(a);
  // a and b merged: a block as large as both fits where a was
  assert.equal(heapAlloc(5500), a);
  heapFree(a);
  heapFree(c);
  assert.equal(heapInUse(), base);
  assert.throws(() => heapFree(c), /not an allocated block/);
});

test('pinWeight copies into the heap once; unpinWeight gives the space back', () => {
  const base = heapInUse();
  const host = Float32Array.from({ length: 777 }, (_, i) => i * 0.5);
  const w = pinWeight(host);
  assert.ok(inHeap(w) && !inHeap(host));
  assert.deepEqual(w, host);
  assert.equal(pinWeight(w), w, 'pinning a pinned view is a no-op');
  assert.equal(heapF32()[w.byteOffset / 4 + 776], 388);
  unpinWeight(w);
  assert.equal(heapInUse(), base);
  assert.throws(() => unpinWeight(host), /not a pinned weight/);
});
