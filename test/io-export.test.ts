import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES } from './fixtures.js';
import { parseJson, stringifyJson } from '../src/io/json.js';
import { fromHfConfig, hfConfigText, toHfConfig } from '../src/io/hf-config.js';
import { readCheckpoint, readConfig, writeCheckpoint } from '../src/io/checkpoint.js';
import type { Mamba2Config, ModelConfig } from '../src/config.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'io-export-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What `fn` writes to stderr. */
function stderrOf(fn: () => void): string {
  const write = process.stderr.write;
  let out = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return out;
}

test('floatKeys: numbers written as Python floats, with a decimal point', () => {
  const text = stringifyJson({ a: [0, Infinity, -1.5, 1e21], b: 3, c: 2, d: NaN }, new Set(['a', 'c']));
  assert.equal(text, '{\n  "a": [\n    0.0,\n    Infinity,\n    -1.5,\n    1e+21\n  ],\n' +
    '  "b": 3,\n  "c": 2.0,\n  "d": NaN\n}\n');
  assert.deepEqual(parseJson(text, 't.json'), { a: [0, Infinity, -1.5, 1e21], b: 3, c: 2, d: NaN });
});

test('HF mamba2 config.json: the float fields as transformers 5.x accepts them', () => {
  const { config } = readConfig(path.join(FIXTURES, 'hf/mamba2-tiny/config.json'));
  const text = hfConfigText(toHfConfig(config));
  assert.match(text, /\n {2}"time_step_limit": \[\n {4}0\.0,\n {4}Infinity\n {2}\],\n/);
  assert.match(text, /\n {2}"layer_norm_epsilon": 0\.00001,\n/);
  assert.match(text, /\n {2}"time_step_min": 0\.001,\n {2}"time_step_max": 0\.1,\n {2}"time_step_floor": 0\.0001\n/);
  assert.match(text, /\n {2}"num_heads": 8,\n {2}"head_dim": 16,\n {2}"n_groups": 1,\n/);
  assert.deepEqual(fromHfConfig(parseJson(text, 'rt.json') as Record<string, unknown>, 'rt.json'), config);

  const m = config.layers[0].mixer as Mamba2Config;
  const limited: ModelConfig = {
    ...config,
    layers: config.layers.map(() => ({ mixer: { ...m, dtLimit: [0.001, 10], dtMax: 1 } })),
  };
  const limitedText = hfConfigText(toHfConfig(limited));
  assert.match(limitedText, /"time_step_limit": \[\n {4}0\.001,\n {4}10\.0\n {2}\]/);
  assert.match(limitedText, /"time_step_max": 1\.0,/);
});

test('a Mamba-1 config.json keeps its ints and writes its floats with a decimal point', () => {
  const { config } = readConfig(path.join(FIXTURES, 'hf/mamba1-tiny/config.json'));
  const text = hfConfigText(toHfConfig({ ...config, normEpsilon: 1 }));
  assert.match(text, /"layer_norm_epsilon": 1\.0,/);
  assert.match(text, /"state_size": 16,\n {2}"expand": 2,\n {2}"intermediate_size": 128,/);
  assert.match(text, /"time_step_rank": 4,/);
});

test('loading an HF mamba2 checkpoint with n_groups > 1 says once that transformers normalizes differently', () => {
  const g2 = readCheckpoint(path.join(FIXTURES, 'mamba_ssm/ms-mamba2-g2'));
  const dir = path.join(tmp, 'g2');
  assert.equal(writeCheckpoint(dir, g2.config, g2.weights), 'hf');
  const lines = stderrOf(() => readCheckpoint(dir)).split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^mamba-ts: .*g2: n_groups = 2: transformers normalizes the gated RMSNorm over the full width \(128\); mamba-ts, like mamba_ssm and llama\.cpp, normalizes each group of 64/);

  assert.equal(stderrOf(() => readCheckpoint(path.join(FIXTURES, 'hf/mamba2-tiny'))), '');
  assert.equal(stderrOf(() => readCheckpoint(path.join(FIXTURES, 'mamba_ssm/ms-mamba2-g2'))), '');
});
