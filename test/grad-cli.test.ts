import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGrads } from '../src/cli/grads.js';
import { UserError } from '../src/errors.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { maxAbsDiff } from './cpu-util.js';
import { FIXTURES } from './model-util.js';

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-grads-'));

for (const name of ['hf/mamba1-tied-residual32', 'hf/mamba2-tiny', 'hf/nemotronh-tiny']) {
  test(`grads ${name}: the file holds the fixture's loss and grad.* names, shapes and values`, async (t) => {
    const input = join(FIXTURES, name, 'expected.safetensors');
    const out = join(tmp, `${name.replace('/', '-')}.safetensors`);
    assert.equal(await runGrads(['--model', join(FIXTURES, name), '--input', input, '--out', out]), 0);
    const got = readSafetensors(out);
    const want = readSafetensors(input);
    const keys = [...want.keys()].filter((k) => k === 'loss' || k.startsWith('grad.')).sort();
    // the file's names; the fixture's are named_parameters()', where NemotronH's backbone is `model.`
    const fixtureKey = (k: string) => (want.has(k) ? k : k.replace(/^grad\.backbone\./, 'grad.model.'));
    assert.deepEqual([...got.keys()].map(fixtureKey).sort(), keys);
    let worst = 0;
    for (const k of got.keys()) {
      assert.deepEqual(got.get(k)!.shape, want.get(fixtureKey(k))!.shape, k);
      const ref = want.get(fixtureKey(k))!.data;
      const rel = maxAbsDiff(got.get(k)!.data, ref) / Math.max(...Array.from(ref, Math.abs));
      worst = Math.max(worst, rel);
      assert.ok(rel < 1e-4, `${k}: relative error ${rel}`);
    }
    t.diagnostic(`worst relative error over loss and ${keys.length - 1} gradients: ${worst.toExponential(2)}`);
  });
}

test('grads: one-line user errors for a single-token input and an id outside the vocabulary', async () => {
  const model = join(FIXTURES, 'hf/mamba1-tiny');
  const out = join(tmp, 'never.safetensors');
  const short = join(tmp, 'short.safetensors');
  writeSafetensors(short, new Map([['input_ids', { shape: [2, 1], dtype: 'i32', data: Int32Array.of(1, 2) }]]));
  await assert.rejects(runGrads(['--model', model, '--input', short, '--out', out]), (e: Error) => e instanceof UserError && /length 1/.test(e.message));
  const big = join(tmp, 'big.safetensors');
  writeSafetensors(big, new Map([['input_ids', { shape: [1, 3], dtype: 'i32', data: Int32Array.of(1, 300, 2) }]]));
  await assert.rejects(runGrads(['--model', model, '--input', big, '--out', out]), (e: Error) => e instanceof UserError && /input_ids\[0\]\[1\] = 300/.test(e.message));
  await assert.rejects(runGrads(['--model', join(tmp, 'nope'), '--input', big, '--out', out]), (e: Error) => e instanceof UserError && /nope/.test(e.message));
});
