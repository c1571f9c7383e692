/**
 * The server's pieces alone: stop strings across streamed pieces, the prefix cache's lookup
 * (longest prefix within a limit, token-checked), its byte bound and LRU order, branch points,
 * and one sequence's state through host tensors and back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostStateBytes, stateFromHost, stateToHost, type HostState } from '../src/model/state-host.js';
import { PrefixCache, prefixKeys } from '../src/server/prefix-cache.js';
import { StopText } from '../src/generate/stop-text.js';
import { loadFixture } from './model-util.js';

test('StopText without the stop string: a stop string across pieces ends the text before it; the earliest of several wins', () => {
  const s = new StopText(['END', 'xy'], false);
  assert.equal(s.push('abc E'), 'abc ');   // "E" might begin END: held back
  assert.equal(s.push('N'), '');
  assert.equal(s.push('Dmore'), '');
  assert.ok(s.stopped);
  const t = new StopText(['END', 'xy'], false);
  assert.equal(t.push('a x'), 'a ');
  assert.equal(t.push('z ENxyEND'), 'xz EN');
  assert.ok(t.stopped);
  const u = new StopText(['END'], false);
  assert.equal(u.push('the EN'), 'the ');
  assert.equal(u.flush(), 'EN');
  assert.ok(!u.stopped);
});

/** a fake state of `bytes` bytes */
const fake = (bytes: number): HostState => new Map([['layers.0.ssm', { shape: [bytes / 4], dtype: 'f32', data: new Float32Array(bytes / 4) }]]);

test('PrefixCache: the longest cached prefix within the limit; other tokens with the same length never match', () => {
  const c = new PrefixCache(1 << 20, 'm');
  c.insert([1, 2, 3], fake(64));
  c.insert([1, 2, 3, 4, 5], fake(64));
  assert.equal(c.lookup([1, 2, 3, 4, 5, 6], 5)?.tokens.length, 5);
  assert.equal(c.lookup([1, 2, 3, 4, 5, 6], 4)?.tokens.length, 3);
  assert.equal(c.lookup([1, 2, 9, 4, 5, 6], 5), undefined);
  assert.equal(c.lookup([7, 2, 3], 3), undefined);
  assert.equal(c.branchPoint([1, 2, 3, 4, 8, 8], 6), 4);
  assert.notEqual(prefixKeys([1, 2])[2], prefixKeys([2, 1])[2]);
});

test('PrefixCache: within its byte budget, least recently used out first', () => {
  const entry = 1000 + 4 * 2;   // state bytes + 2 tokens
  const c = new PrefixCache(3 * entry, 'm');
  for (const t of [[1, 1], [2, 2], [3, 3]]) c.insert(t, fake(1000));
  assert.equal(c.size, 3);
  assert.ok(c.lookup([1, 1, 0], 2));   // [1, 1] becomes the most recent
  c.insert([4, 4], fake(1000));
  assert.equal(c.size, 3);
  assert.equal(c.bytes, 3 * entry);
  assert.equal(c.lookup([2, 2, 0], 2), undefined);
  assert.ok(c.lookup([1, 1, 0], 2));
  c.insert([5, 5], fake(4000));          // larger than the whole budget: not kept
  assert.equal(c.size, 3);
});

test('a hybrid state goes to host tensors (KV cut to its length) and back unchanged', async () => {
  const { model } = await loadFixture('mamba_ssm/ms-hybrid');
  const ids = Array.from({ length: 9 }, (_, i) => (i * 31) % 300);
  const { state } = model.forward(model.ids([ids]), model.initState(1, 32));
  const host = await stateToHost(state);
  assert.deepEqual(host.get('layers.1.k')!.shape.slice(0, 2), [1, 9]);
  assert.deepEqual([...host.get('layers.1.length')!.data], [9]);
  const back = stateFromHost(model, host, 32, 'test');
  const again = await stateToHost(back);
  assert.equal(hostStateBytes(again), hostStateBytes(host));
  for (const [name, t] of host) assert.deepEqual(again.get(name)!.data, t.data, name);
  // and it continues as the original would
  const a = await model.readLogits(model.step(model.stepIds([5]), state).logits);
  const b = await model.readLogits(model.step(model.stepIds([5]), back).logits);
  assert.deepEqual(b, a);
  assert.throws(() => stateFromHost(model, new Map([...host].filter(([n]) => n !== 'layers.0.ssm')), 32, 'x.safetensors'), /x\.safetensors: no tensor layers\.0\.ssm/);
});
