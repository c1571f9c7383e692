/**
 * The built CLI against every reference fixture: `logits` (forward and --recurrent) within 1e-4
 * of the reference logits, and greedy `generate` equal to the reference's greedy_ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.js';
import { maxAbsDiff } from './cpu-util.js';
import { cli, FIXTURES, ROOT, tempDir } from './cli-util.js';

const NAMES = ['hf/mamba1-tiny', 'hf/mamba1-tied-residual32', 'hf/mamba2-tiny', 'hf/nemotronh-tiny', 'hf/llama-tiny',
  'mamba_ssm/ms-mamba1', 'mamba_ssm/ms-mamba2-g2', 'mamba_ssm/ms-hybrid'];
const TOL = 1e-4;
const out = tempDir();

for (const name of NAMES) {
  const dir = `${FIXTURES}/${name}`;
  const expected = readSafetensors(resolve(ROOT, dir, 'expected.safetensors'));
  const want = expected.get('logits')!;

  for (const recurrent of [false, true]) {
    test(`${name}: logits${recurrent ? ' --recurrent' : ''} match the reference`, (t) => {
      const file = join(out, `${name.replace('/', '_')}${recurrent ? '-rec' : ''}.safetensors`);
      const r = cli('logits', '--model', dir, '--input', `${dir}/expected.safetensors`, '--out', file, ...(recurrent ? ['--recurrent'] : []));
      assert.equal(r.code, 0, r.stderr);
      const got = readSafetensors(file).get('logits')!;
      assert.equal(got.dtype, 'f32');
      assert.deepEqual(got.shape, want.shape);
      const err = maxAbsDiff(got.data, want.data);
      t.diagnostic(`max abs error ${err.toExponential(2)}`);
      assert.ok(err < TOL, `max abs error ${err}`);
    });
  }

  const greedy = expected.get('greedy_ids');
  if (greedy) {
    test(`${name}: greedy generate --ids-only equals greedy_ids`, () => {
      const ids = expected.get('input_ids')!;
      const prompt = [...ids.data.subarray(0, ids.shape[1])].join(',');
      const r = cli('generate', '--model', dir, '--prompt-ids', prompt, '--temperature', '0', '--ids-only', '--max-new-tokens', String(greedy.data.length));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, [...greedy.data].join(',') + '\n');
      assert.match(r.stderr, /prefill \d+ tokens .* decode \d+ tokens/);
    });
  }
}

test('logits reads int64 input_ids', () => {
  const dir = `${FIXTURES}/hf/mamba1-tiny`;
  const expected = readSafetensors(resolve(ROOT, dir, 'expected.safetensors'));
  const ids = expected.get('input_ids')!;
  const file = join(out, 'ids64.safetensors');
  writeFileSync(file, safetensorsI64('input_ids', ids.shape, BigInt64Array.from(ids.data, (v) => BigInt(v))));
  const r = cli('logits', '--model', dir, '--input', file, '--out', join(out, 'ids64-out.safetensors'));
  assert.equal(r.code, 0, r.stderr);
  const got = readSafetensors(join(out, 'ids64-out.safetensors')).get('logits')!;
  assert.ok(maxAbsDiff(got.data, expected.get('logits')!.data) < TOL);
});

/** one I64 tensor, written by hand: writeSafetensors only writes f32 and i32 */
function safetensorsI64(name: string, shape: number[], data: BigInt64Array): Buffer {
  const json = JSON.stringify({ [name]: { dtype: 'I64', shape, data_offsets: [0, data.byteLength] } });
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([head, Buffer.from(json), Buffer.from(data.buffer)]);
}
