import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../src/cli/flags.js';
import { UserError } from '../src/errors.js';
import { checkModelSize } from '../src/io/config-limits.js';
import { fromHfConfig } from '../src/io/hf-config.js';
import { describe, parseJson } from '../src/io/json.js';
import { backtrackingProblem } from '../src/text/validate.js';

const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

test('regex patterns: published pre-tokenizers pass, nested quantifiers and repeated alternations are refused', () => {
  for (const p of [GPT2, LLAMA3, '(?:ab)+', 'a{2}', '((a)+)?', '[(+)*]+', '\\(a+\\)+']) assert.equal(backtrackingProblem(p), undefined, p);
  for (const p of ['(a+)+b', '(a|aa)*b', '(\\w{2,})*x', '(?<n>a+)+', '((ab)*c)+', '(\\s*\\w+\\s*)+$']) assert.match(backtrackingProblem(p) ?? '', /nested quantifiers/, p);
  assert.match(backtrackingProblem('(a')!, /unbalanced/);
  assert.match(backtrackingProblem('a)')!, /unbalanced/);
});

test('describe: bounded previews of deep, cyclic, huge and odd values', () => {
  const cyclic: unknown[] = [1];
  cyclic.push(cyclic);
  let deep: unknown = 0;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(describe(cyclic), '[1, [1, [1, […]]]]');
  assert.equal(describe(deep), '[[[[…]]]]');
  assert.equal(describe(2n ** 200n), 'a huge integer');
  assert.equal(describe(12n), '12');
  assert.equal(describe(new Map([['k', new Uint8Array(3)]])), '{"k": bytes[3]}');
  assert.equal(describe('x'.repeat(1000)).length, 61);
  assert.ok(describe(Array.from({ length: 1e5 }, (_, i) => i)).length <= 61);
});

test('JSON nesting is bounded before parsing; brackets inside strings do not count', () => {
  assert.throws(() => parseJson('['.repeat(65) + ']'.repeat(65), 'f.json'), (e: unknown) => e instanceof UserError && /f\.json: JSON nests deeper than 64/.test(e.message));
  const ok = parseJson(`{"a": "${'['.repeat(1000)}", "b": ${'['.repeat(63)}${']'.repeat(63)}}`, 'f.json') as { a: string };
  assert.equal(ok.a.length, 1000);
});

test('config limits: per field, per derived width, total parameters', () => {
  const base = { model_type: 'mamba', hidden_size: 64, num_hidden_layers: 2, vocab_size: 300 };
  const refused = (json: object, message: RegExp) =>
    assert.throws(() => fromHfConfig({ ...base, ...json }, 'c.json'), (e: unknown) => e instanceof UserError && message.test(e.message));
  refused({ num_hidden_layers: 4097 }, /c\.json: field "num_hidden_layers" is beyond the limit of 4096/);
  refused({ vocab_size: 2 ** 24 + 1 }, /field "vocab_size" is beyond the limit of 16777216/);
  refused({ expand: 2 ** 20 }, /c\.json: d_inner \(expand × width\) is 67108864, outside 1\.\.16777216/);
  refused({ expand: 0.001 }, /d_inner .* is 0, outside 1\.\./);
  refused({ hidden_size: 2 ** 20, vocab_size: 2 ** 20 }, /about 1\.51e\+13 parameters, beyond the limit of 2\^34/);
  refused({ hidden_act: 'relu' }, /field "hidden_act" must be "silu" or "swish"/);
  assert.equal(fromHfConfig({ ...base, hidden_act: 'swish', num_hidden_layers: 4096 }, 'c.json').layers.length, 4096);
  assert.doesNotThrow(() => checkModelSize(fromHfConfig(base, 'c.json'), 'c.json'));
});

test('number flags outside the normal f32 range and int flags beyond 2^24 are refused by name', () => {
  const specs = { t: { kind: 'number', help: '' }, n: { kind: 'int', help: '' }, s: { kind: 'int', help: '', max: 0xffffffff } } as const;
  const help = { usage: '', summary: '' };
  const refused = (argv: string[], message: RegExp) => assert.throws(() => parseFlags(argv, specs, help), (e: unknown) => e instanceof UserError && message.test(e.message));
  refused(['--t', '1e-320'], /--t: 1e-320 is outside the range of f32/);
  refused(['--t', '-1e-39'], /--t: -1e-39 is outside the range of f32/);
  refused(['--t', '1e39'], /--t: 1e39 is outside the range of f32/);
  refused(['--t', 'NaN'], /--t: expected a number/);
  refused(['--n', '16777217'], /--n: 16777217 is out of range \(must be <= 16777216\)/);
  refused(['--n', '99999999999999999999'], /--n: 100000000000000000000 is out of range/);
  assert.deepEqual(parseFlags(['--t', '0', '--n', '16777216', '--s', '4294967295'], specs, help), { t: 0, n: 16777216, s: 4294967295 });
  assert.equal(parseFlags(['--t', '1.2e-38'], specs, help)!.t, 1.2e-38);
});
