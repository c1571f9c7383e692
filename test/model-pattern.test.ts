import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../src/errors.js';
import { layerStackConfig } from '../src/train/architecture.js';
import { parsePattern, patternFromRatios } from '../src/model/pattern.js';
import { hfUnsupportedReason } from '../src/io/hf-config.js';
import { nemotronHUnsupportedReason } from '../src/io/nemotron-h-config.js';
import { cli } from './cli-util.js';

/**
 * (L, attention ratio, MLP ratio) -> pattern, each computed with Megatron-LM's own
 * pattern_from_ratios (megatron/core/models/hybrid/hybrid_layer_allocation.py at d98e8a6, run
 * alone in Python): ties of round() go to the even count (3 * 0.5 -> 2, 9 * 0.5 -> 4), and
 * rounding may leave fewer Mamba-2 layers than asked for (3, 0.5, 0.5).
 */
const MEGATRON: [number, number, number, string][] = [
  [56, 0.08, 0.5, 'M-M-M--M-M*-M-M-M-M--M*-M-M-M-M-M*--M-M-M-M-M*-M--M-M-M-'],
  [1, 0, 0, 'M'],
  [1, 0.5, 0, 'M'],
  [2, 0.5, 0, 'M*'],
  [3, 0.5, 0.5, '*-*'],
  [4, 0.25, 0.25, 'MM*-'],
  [5, 0.1, 0.1, 'MMMMM'],
  [10, 0.1, 0.5, 'M-M--*M-M-'],
  [12, 0.25, 0.5, 'M-*-M-*-M*--'],
  [14, 0.08, 0.5, 'M-M-M--*M-M-M-'],
  [24, 0.125, 0.5, 'M-M--*M-M-M-*-M-M-*M--M-'],
  [28, 0.08, 0.5, 'M-M-M--M-*M-M-M-M-*M--M-M-M-'],
  [48, 0.0, 0.5, 'M-M-M-M-M-M-M-M-M-M-M-M-M-M-M-M-M-M-M-M-M-M-M-M-'],
  [50, 0.1, 0.0, 'MMMMMMMM*MMMMMMM*MMMMMMMM*MMMMMMM*MMMMMMMM*MMMMMMM'],
  [52, 0.08, 0.0, 'MMMMMMMMMM*MMMMMMMMM*MMMMMMMMMM*MMMMMMMMM*MMMMMMMMMM'],
  [7, 0.3, 0.3, 'MM*-*M-'],
  [9, 0.5, 0.5, '-*M*-*-*-'],
  [16, 0.0625, 0.5, 'M-M-M-M-*-M-M-M-'],
  [64, 0.09, 0.45, 'M-M-M-M-*M-M-M-M-M*-M-M-M-M*-M-M-M-M*-M-M-M-M*-M-M-M-M-*M-M-M-M-'],
  [100, 0.07, 0.49, 'M-M-M-M--M-M*-M-M-M-M-M-*M-M--M-M-M-M*-M-M-M-M-M--*M-M-M-M-M-M*-M-M-M--M-M-*M-M-M-M-M-M*-M--M-M-M-M-'],
  [8, 0.5, 0.0, 'M*M**M*M'],
  [6, 0.0, 0.5, 'M-M-M-'],
  [11, 0.45, 0.1, 'M*M*M*M*M*-'],
  [3, 0.0, 0.9, '---'],
  [20, 0.15, 0.35, 'M-MM*-M-MM*-M-M*M-M-'],
];

test("patternFromRatios reproduces Megatron-LM's allocation", () => {
  for (const [L, A, R, want] of MEGATRON) assert.equal(patternFromRatios(L, A, R), want, `${L} ${A} ${R}`);
  const hybrid8b = patternFromRatios(56, 0.08, 0.5);
  const count = (c: string) => [...hybrid8b].filter((x) => x === c).length;
  assert.deepEqual([count('M'), count('*'), count('-')], [24, 4, 28]);
});

test('parsePattern: M * - layers, | skipped; other symbols are one-line errors', () => {
  assert.deepEqual(parsePattern('M-|M*', 'p'), ['mamba2', 'mlp', 'mamba2', 'attention']);
  for (const [bad, why] of [['M-X', 'unknown layer symbol'], ['M-E', 'mixture-of-experts'], ['MM/*M', 'multi-token'], ['|', 'no layers']]) {
    assert.throws(() => parsePattern(bad, '--layers'), (e: unknown) => e instanceof UserError && e.message.startsWith('--layers') && e.message.includes(why), bad);
  }
});

test('--layers takes a pattern: one layer per symbol, NemotronH-shaped', () => {
  const c = layerStackConfig({ layers: 'M-M*-', dModel: 32, dState: 8, expand: 2, headDim: 16, heads: 4, dIntermediate: 0, vocabSize: 64 });
  assert.deepEqual(c.layers.map((l) => l.mixer.kind), ['mamba2', 'mlp', 'mamba2', 'attention', 'mlp']);
  assert.ok(c.layers.every((l) => l.mlp === undefined));
  assert.equal(c.layers[1].mixer.kind === 'mlp' && c.layers[1].mixer.dIntermediate, 128);
  // MLP layers alone are no Mamba stack: they save as NemotronH
  const mlps = layerStackConfig({ layers: '--', dModel: 32, dState: 8, expand: 2, headDim: 16, heads: 4, dIntermediate: 0, vocabSize: 64 });
  assert.match(hfUnsupportedReason(mlps) ?? '', /layer 0 is an MLP/);
  assert.equal(nemotronHUnsupportedReason(mlps), undefined);
  assert.throws(() => layerStackConfig({ layers: 'M-Q', dModel: 32, dState: 8, expand: 2, headDim: 16, heads: 4, dIntermediate: 0, vocabSize: 64 }), /"Q" at position 2/);
});

test('mamba-ts pattern prints the pattern; bad ratios are one line', () => {
  const r = cli('pattern', '--n-layers', '56', '--attention-ratio', '0.08', '--mlp-ratio', '0.5');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${MEGATRON[0][3]}\n`);
  for (const [args, msg] of [[['--attention-ratio', '1'], '[0, 1)'], [['--mlp-ratio', '-0.1'], '[0, 1)'], [['--attention-ratio', '0.6', '--mlp-ratio', '0.6'], 'at most 1']] as const) {
    const bad = cli('pattern', '--n-layers', '8', ...args);
    assert.equal(bad.code, 2);
    assert.ok(bad.stderr.includes(msg) && bad.stderr.trim().split('\n').length === 1, bad.stderr);
  }
});
