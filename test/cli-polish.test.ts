/**
 * The CLI's conveniences: --version, info --json (presets from the config alone), generate's
 * --json, stdin prompts, generation_config.json defaults, EOS and --stop, and logits/grads from
 * --prompt/--ids saying what they wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { stateTensors } from '../src/model/lm.js';
import { preset } from '../src/model/presets.js';
import { stateBytesOf } from '../src/model/sizes.js';
import { ByteTokenizer } from '../src/text/byte-level.js';
import { cli, cliWithStdin, FIXTURES, ROOT, tempDir } from './cli-util.js';
import { loadFixture } from './model-util.js';

const TINY = `${FIXTURES}/hf/mamba1-tiny`;
const HYBRID = `${FIXTURES}/mamba_ssm/ms-hybrid`;

/** A copy of the byte-level mamba1-tiny folder with `generation` as its generation_config.json. */
function tinyWith(generation: object): string {
  const dir = tempDir();
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(TINY, f), join(dir, f));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify(generation));
  return dir;
}

const greedy = (dir: string, ...more: string[]) => {
  const r = cli('generate', '--model', dir, '--prompt', 'Hi', '--temperature', '0', '--json', ...more);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { prompt_tokens: number; ids: number[]; text: string; stop_reason: string };
};

test('--version prints the package version', () => {
  const r = cli('--version');
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
});

test('info --json: a preset from its config, a folder from its tensors; state bytes = the state tensors', async () => {
  const p = cli('info', '--model', 'mamba-130m', '--json');
  assert.equal(p.code, 0, p.stderr);
  const j = JSON.parse(p.stdout) as Record<string, unknown>;
  assert.equal(j.parameters, 129_135_360);
  assert.equal(j.state_bytes_per_sequence, 24 * 4 * 1536 * (3 + 16));
  assert.equal(j.summary, '24 × mamba1 (N=16, d_inner 1536, dt_rank 48, conv 4)');
  const { model } = await loadFixture('mamba_ssm/ms-hybrid');
  const h = JSON.parse(cli('info', '--model', HYBRID, '--json', '--max-len', '7').stdout) as Record<string, unknown>;
  assert.equal(h.parameters, model.paramCount());
  const state = model.initState(1, 7);
  const stored = state.layers.flatMap(stateTensors);
  const lengths = state.layers.filter((s) => s.kind === 'attention').length;
  assert.equal(h.state_bytes_per_sequence, 4 * (stored.reduce((a, t) => a + t.size, 0) + lengths));
  assert.deepEqual(h.layer_kinds, { mamba2: 3, attention: 1 });
  assert.equal(stateBytesOf(preset('mamba2-130m'), 1), 24 * 4 * ((1536 + 2 * 128) * 3 + 24 * 64 * 128));
});

test('generate: generation_config.json defaults apply, flags override them', () => {
  const base = greedy(tinyWith({}), '--max-new-tokens', '6');
  assert.equal(base.ids.length, 6);
  const dir = tinyWith({ do_sample: false, max_new_tokens: 4 });
  const r = cli('generate', '--model', dir, '--prompt', 'Hi', '--json');
  const j = JSON.parse(r.stdout) as { ids: number[]; stop_reason: string };
  assert.deepEqual(j.ids, base.ids.slice(0, 4));          // greedy from do_sample: false, 4 from max_new_tokens
  assert.equal(j.stop_reason, 'max-new-tokens');
  assert.equal(greedy(dir, '--max-new-tokens', '2').ids.length, 2);
  const bad = cli('generate', '--model', tinyWith({ top_p: 2 }), '--prompt', 'Hi');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /generation_config\.json: field "top_p" must be in \[0, 1\] \(got 2\)/);
});

test('generate: stops at generation_config\'s eos_token_id (not printed) unless --ignore-eos', () => {
  const all = greedy(tinyWith({}), '--max-new-tokens', '12');
  const eos = all.ids[4];
  const cut = all.ids.indexOf(eos);
  const stopped = greedy(tinyWith({ eos_token_id: [999, eos] }), '--max-new-tokens', '12');
  assert.deepEqual(stopped.ids, all.ids.slice(0, cut + 1));
  assert.equal(stopped.stop_reason, 'eos');
  assert.equal(stopped.text, new ByteTokenizer().decode(all.ids.slice(0, cut)));
  assert.deepEqual(greedy(tinyWith({ eos_token_id: eos }), '--max-new-tokens', '12', '--ignore-eos').ids, all.ids);
});

test('generate --stop: all text up to and including the stop string, nothing after', () => {
  const all = greedy(tinyWith({}), '--max-new-tokens', '24');
  const stop = all.text.slice(6, 8);
  const at = all.text.indexOf(stop);
  const r = greedy(tinyWith({}), '--max-new-tokens', '24', '--stop', stop);
  assert.equal(r.text, all.text.slice(0, at + stop.length));
  assert.equal(r.stop_reason, 'stop');
  const streamed = cli('generate', '--model', tinyWith({}), '--prompt', 'Hi', '--temperature', '0', '--max-new-tokens', '24', '--stop', stop);
  assert.equal(streamed.stdout, `${r.text}\n`);
});

test('generate reads the prompt from stdin: --prompt - or no prompt flag with a pipe', () => {
  const want = greedy(TINY, '--max-new-tokens', '5');
  for (const args of [['--prompt', '-'], []]) {
    const r = cliWithStdin('Hi\n', 'generate', '--model', TINY, '--temperature', '0', '--max-new-tokens', '5', '--json', ...args);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { ids: number[]; prompt_tokens: number };
    assert.equal(j.prompt_tokens, 2);                     // the trailing newline removed
    assert.deepEqual(j.ids, want.ids);
  }
  const empty = cliWithStdin('', 'generate', '--model', TINY, '--prompt', '-');
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no prompt: stdin was empty/);
});

test('logits and grads take --ids / --prompt like --input, and say what they wrote', () => {
  const dir = tempDir();
  const input = join(dir, 'ids.safetensors');
  writeSafetensors(input, new Map([['input_ids', { shape: [1, 3], dtype: 'i32', data: Int32Array.of(72, 105, 33) }]]));
  const outs = [['--input', input], ['--ids', '72,105,33'], ['--prompt', 'Hi!']].map((how, i) => {
    const out = join(dir, `logits${i}.safetensors`);
    const r = cli('logits', '--model', HYBRID, ...how, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `mamba-ts: wrote ${out}: logits [1, 3, 304]\n`);
    return readSafetensors(out).get('logits')!.data;
  });
  assert.deepEqual(outs[1], outs[0]);
  assert.deepEqual(outs[2], outs[0]);
  const both = cli('logits', '--model', HYBRID, '--ids', '1', '--input', input, '--out', join(dir, 'x.safetensors'));
  assert.equal(both.stderr, 'mamba-ts: give exactly one of --input, --prompt and --ids (got --input, --ids)\n');
  const g = join(dir, 'grads.safetensors');
  const r = cli('grads', '--model', HYBRID, '--ids', '72,105,33', '--out', g);
  assert.equal(r.code, 0, r.stderr);
  const written = readSafetensors(g);
  assert.equal(r.stderr, `mamba-ts: wrote ${g}: ${[...written].map(([n, t]) => `${n} [${t.shape.join(', ')}]`).join(', ')}\n`);
  assert.ok(written.size > 10 && r.stderr.includes('loss [1], grad.'));
});
