/**
 * Every user mistake ends the CLI with exit code 2 and one stderr line, "mamba-ts: ...", that
 * names the culprit (file, tensor, flag or id), without a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeSafetensors } from '../src/io/safetensors.js';
import { cli, FIXTURES, ROOT, tempDir } from './cli-util.js';

const TINY = `${FIXTURES}/hf/mamba1-tiny`;
const MS = `${FIXTURES}/mamba_ssm/ms-mamba1`;
const INPUT = `${TINY}/expected.safetensors`;
const tmp = tempDir();

const truncated = join(tmp, 'truncated.safetensors');
writeFileSync(truncated, readFileSync(resolve(ROOT, INPUT)).subarray(0, 1000));
const truncatedData = join(tmp, 'truncated-data.safetensors');
const whole = readFileSync(resolve(ROOT, INPUT));
writeFileSync(truncatedData, whole.subarray(0, whole.length - 100));
const noIds = join(tmp, 'no-ids.safetensors');
writeSafetensors(noIds, new Map([['tokens', { shape: [1, 2], dtype: 'i32', data: Int32Array.of(1, 2) }]]));
const ids1d = join(tmp, 'ids-1d.safetensors');
writeSafetensors(ids1d, new Map([['input_ids', { shape: [3], dtype: 'i32', data: Int32Array.of(1, 2, 3) }]]));
const idsFloat = join(tmp, 'ids-float.safetensors');
writeSafetensors(idsFloat, new Map([['input_ids', { shape: [1, 2], dtype: 'f32', data: Float32Array.of(1, 2) }]]));
const idsEmpty = join(tmp, 'ids-empty.safetensors');
writeSafetensors(idsEmpty, new Map([['input_ids', { shape: [1, 0], dtype: 'i32', data: new Int32Array(0) }]]));
const idsBig = join(tmp, 'ids-big.safetensors');
writeSafetensors(idsBig, new Map([['input_ids', { shape: [2, 2], dtype: 'i32', data: Int32Array.of(1, 2, 3, 300) }]]));
const badConfig = join(tmp, 'bad-config');
mkdirSync(badConfig);
copyFileSync(resolve(ROOT, TINY, 'model.safetensors'), join(badConfig, 'model.safetensors'));
writeFileSync(join(badConfig, 'config.json'), '{"model_type": "mamba",');
const out = join(tmp, 'out.safetensors');

const logits = (...extra: string[]) => ['logits', '--model', TINY, '--input', INPUT, '--out', out, ...extra];
const gen = (...extra: string[]) => ['generate', '--model', TINY, '--ids-only', ...extra];

/** [what, argv, a pattern the one stderr line must match] */
const CASES: [string, string[], RegExp][] = [
  ['missing model folder', ['logits', '--model', join(tmp, 'nope'), '--input', INPUT, '--out', out], /--model .*nope: folder not found/],
  ['missing input file', ['logits', '--model', TINY, '--input', join(tmp, 'nope.safetensors'), '--out', out], /nope\.safetensors: file not found/],
  ['unknown flag', logits('--bogus'), /unknown flag --bogus/],
  ['flag without its value', ['logits', '--model', TINY, '--input', '--out', out], /--input needs a value/],
  ['flag given twice', logits('--out', out), /--out is given twice/],
  ['stray argument', [...logits(), 'extra'], /unexpected argument "extra"/],
  ['unknown command', ['frobnicate'], /unknown command "frobnicate"/],
  ['negative --max-new-tokens', gen('--prompt-ids', '1,2', '--max-new-tokens', '-3'), /--max-new-tokens: -3 is out of range/],
  ['non-integer --top-k', gen('--prompt-ids', '1', '--top-k', '2.5'), /--top-k: expected an integer, got "2\.5"/],
  ['non-numeric --temperature', gen('--prompt-ids', '1', '--temperature', 'hot'), /--temperature: expected a number, got "hot"/],
  ['--top-p of 0', gen('--prompt-ids', '1', '--top-p', '0'), /--top-p: 0 is out of range \(must be > 0 and <= 1\)/],
  ['prompt id out of range', ['generate', '--model', MS, '--ids-only', '--prompt-ids', '5,304'], /--prompt-ids: token id 304 \(item 2\) is outside the model's vocabulary \[0, 304\)/],
  ['stop id out of range', gen('--prompt-ids', '1', '--stop-ids', '7,300'), /--stop-ids: token id 300 .*\[0, 300\)/],
  ['malformed prompt ids', gen('--prompt-ids', '1,x'), /--prompt-ids: item 2 "x" is not a non-negative integer/],
  ['both prompts', gen('--prompt', 'hi', '--prompt-ids', '1'), /exactly one of --prompt and --prompt-ids/],
  ['no prompt', gen(), /exactly one of --prompt and --prompt-ids/],
  ['input without input_ids', logits().map((a) => (a === INPUT ? noIds : a)), /no-ids\.safetensors: no tensor "input_ids"/],
  ['input_ids not 2-D', logits().map((a) => (a === INPUT ? ids1d : a)), /ids-1d\.safetensors: input_ids has shape \[3\], expected 2-D/],
  ['input_ids of floats', logits().map((a) => (a === INPUT ? idsFloat : a)), /ids-float\.safetensors: input_ids holds floats/],
  ['empty input_ids', logits().map((a) => (a === INPUT ? idsEmpty : a)), /ids-empty\.safetensors: input_ids is empty/],
  ['input id out of range', logits().map((a) => (a === INPUT ? idsBig : a)), /ids-big\.safetensors: input_ids\[1\]\[1\] = 300 is outside the model's vocabulary \[0, 300\)/],
  ['truncated safetensors header', logits().map((a) => (a === INPUT ? truncated : a)), /truncated\.safetensors: safetensors header length \d+ does not fit in the file/],
  ['truncated safetensors data', logits().map((a) => (a === INPUT ? truncatedData : a)), /truncated-data\.safetensors: tensor ".*": data_offsets .* run past the end/],
  ['config.json not JSON', ['logits', '--model', badConfig, '--input', INPUT, '--out', out], /bad-config\/config\.json: .*JSON/],
  ['unknown device', gen('--prompt-ids', '1', '--device', 'tpu'), /--device: "tpu" is not one of cpu, webgpu/],
  ['bench matmul without --k', ['bench', '--op', 'matmul', '--m', '4', '--n', '4'], /--op matmul needs --k/],
  ['bench unknown model', ['bench', '--model', 'mamba-7b'], /--model mamba-7b: folder not found and not a preset/],
];

for (const [what, argv, pattern] of CASES) {
  test(`error: ${what}`, () => {
    const r = cli(...argv);
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n');
    assert.equal(lines.length, 2, `one stderr line, got: ${r.stderr}`);
    assert.equal(lines[1], '');
    assert.match(lines[0], /^mamba-ts: /);
    assert.match(lines[0], pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
}

test('--debug adds the stack trace', () => {
  const r = cli('logits', '--model', join(tmp, 'nope'), '--input', INPUT, '--out', out, '--debug');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^mamba-ts: --model .*: folder not found\n/);
  assert.match(r.stderr, /\n\s+at /);
});

test('--help of the tool and of every command exits 0 with usage on stdout', () => {
  for (const argv of [['--help'], ...['logits', 'generate', 'bench', 'info', 'demo'].map((c) => [c, '--help'])]) {
    const r = cli(...argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: mamba-ts/);
    assert.equal(r.stderr, '');
  }
  assert.match(cli('generate', '--help').stdout, /--repetition-penalty R/);
});
