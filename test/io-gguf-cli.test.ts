/**
 * `mamba-ts convert --to gguf` and `--model FILE.gguf` through the command line: the converted
 * file gives the HF folder's greedy ids, and bad requests end with one line and exit code 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readGguf } from '../src/io/gguf/read.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { cli, FIXTURES, tempDir } from './cli-util.js';

const tmp = tempDir();
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('convert hf/mamba2-tiny --to gguf --type q8_0, then generate from the .gguf', () => {
  const dir = path.join(FIXTURES, 'hf', 'mamba2-tiny');
  const out = path.join(tmp, 'm2.gguf');
  const r = cli('convert', '--model', dir, '--to', 'gguf', '--out', out, '--type', 'q8_0');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote .*m2\.gguf \(q8_0, byte-level vocabulary/);
  const { header } = readGguf(out);
  assert.deepEqual(header.metadata.get('general.file_type'), { type: 'u32', value: 7 });
  assert.deepEqual(header.metadata.get('general.name'), { type: 'string', value: 'mamba2-tiny' });
  const types = Object.fromEntries(header.tensors.map((t) => [t.name, t.type]));
  assert.equal(types['blk.0.ssm_in.weight'], 'Q8_0');
  assert.equal(types['output.weight'], 'Q8_0');
  assert.equal(types['blk.0.ssm_conv1d.weight'], 'F32');
  assert.equal(types['blk.0.ssm_a'], 'F32');
  assert.equal(types['blk.0.ssm_norm.weight'], 'F32');

  // f32 GGUF: the same greedy ids as the folder (eos 0 is never picked by these 12 steps)
  const f32 = path.join(tmp, 'm2-f32.gguf');
  assert.equal(cli('convert', '--model', dir, '--to', 'gguf', '--out', f32).code, 0);
  const expected = readSafetensors(path.join(dir, 'expected.safetensors'));
  const L = expected.get('input_ids')!.shape[1];
  const prompt = [...expected.get('input_ids')!.data.subarray(0, L)].join(',');
  const greedy = expected.get('greedy_ids')!.data;
  const g = cli('generate', '--model', f32, '--prompt-ids', prompt, '--temperature', '0', '--ids-only', '--max-new-tokens', String(greedy.length));
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.stdout, [...greedy].join(',') + '\n');
});

test('convert: bad requests are one line, exit code 2', () => {
  const dir = path.join(FIXTURES, 'hf', 'mamba1-tiny');
  const cases: [string[], RegExp][] = [
    [['--to', 'gguf', '--out', path.join(tmp, 'x.bin')], /--out .*x\.bin: a GGUF file's name must end in \.gguf/],
    [['--to', 'gguf', '--out', path.join(tmp, 'x.gguf'), '--type', 'q5_k'], /--type/],
    [['--to', 'onnx', '--out', path.join(tmp, 'x.gguf')], /--to/],
    [['--to', 'gguf', '--out', path.join(tmp, 'no', 'such', 'x.gguf')], /cannot write/],
  ];
  for (const [args, message] of cases) {
    const r = cli('convert', '--model', dir, ...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const hybrid = cli('convert', '--model', path.join(FIXTURES, 'mamba_ssm', 'ms-hybrid'), '--to', 'gguf', '--out', path.join(tmp, 'h.gguf'));
  assert.equal(hybrid.code, 2);
  assert.match(hybrid.stderr, /llama\.cpp cannot run this model: layer 0 has an MLP/);
  const truncated = path.join(tmp, 'cut.gguf');
  fs.writeFileSync(truncated, fs.readFileSync(path.join(FIXTURES, 'gguf', 'mamba1-tiny.gguf')).subarray(0, 5000));
  const bad = cli('logits', '--model', truncated, '--ids', '1,2', '--out', path.join(tmp, 'l.safetensors'));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /cut\.gguf: file is truncated/);
});
