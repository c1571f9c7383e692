/**
 * llama.cpp as the oracle (node-llama-cpp 3.21.1, its bundled CPU build): GGUF files that
 * mamba-ts writes from the HF fixtures load there, its next-token log-probabilities match ours
 * and its greedy decode gives our ids; quantized files load and keep top-1 agreement.
 *
 * llama.cpp's distribution comes through node-llama-cpp's `controlledEvaluate` with
 * temperature 1 and no top-k/top-p/min-p, so the probabilities are softmax(logits). Greedy here
 * is the argmax over ids ≠ 0 (token 0 is eos, which the fixtures' greedy_ids mask: see
 * test/fixtures/README.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCheckpoint } from '../src/io/checkpoint.js';
import { writeGgufModel, type GgufFileType } from '../src/io/gguf/model.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadModel } from '../src/model/load.js';
import type { MambaLM } from '../src/model/lm.js';
import { cpu, host, rng } from './cpu-util.js';
import { FIXTURES } from './fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'io-gguf-llama-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

import type { Token } from 'node-llama-cpp';

type NodeLlama = typeof import('node-llama-cpp');
type Llama = Awaited<ReturnType<NodeLlama['getLlama']>>;
let llamaPromise: Promise<Llama | string> | undefined;

/** node-llama-cpp's CPU build, or why it cannot run here (the tests then skip, saying so). */
function llama(): Promise<Llama | string> {
  llamaPromise ??= import('node-llama-cpp').then(
    (m) => m.getLlama({ gpu: false, build: 'never', logLevel: m.LlamaLogLevel.error }),
  ).catch((e: unknown) => `node-llama-cpp cannot start: ${e instanceof Error ? e.message : String(e)}`);
  return llamaPromise;
}

const SAMPLING = { temperature: 1, topK: 0, topP: 1, minP: 0 };

/** llama.cpp's next-token log-probabilities (V of them) after each prompt token, then `extra` greedy ids. */
async function llamaRun(l: Llama, file: string, V: number, prompt: number[], extra: number): Promise<{ logp: Float64Array[]; greedy: number[] }> {
  const model = await l.loadModel({ modelPath: file });
  const ctx = await model.createContext({ contextSize: 512, sequences: 1, threads: 1 });
  try {
    const seq = ctx.getSequence();
    const toLogp = (p: Map<number, number> | undefined) => Float64Array.from({ length: V }, (_, v) => Math.log(p?.get(v) ?? 0));
    const out = await seq.controlledEvaluate(prompt.map((t) => [t as Token, { generateNext: { probabilities: true, options: SAMPLING } }]));
    const logp = prompt.map((_, i) => toLogp(out[i]?.next.probabilities));
    const greedy: number[] = [];
    let last = logp[logp.length - 1];
    while (greedy.length < extra) {
      const next = argmaxNonZero(last);
      greedy.push(next);
      if (greedy.length === extra) break;
      const [r] = await seq.controlledEvaluate([[next as Token, { generateNext: { probabilities: true, options: SAMPLING } }]]);
      last = toLogp(r?.next.probabilities);
    }
    return { logp, greedy };
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

function argmaxNonZero(row: ArrayLike<number>): number {
  let best = 1;
  for (let i = 2; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function logSoftmax(row: Float32Array): Float64Array {
  let m = -Infinity;
  for (const v of row) m = Math.max(m, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  const lse = m + Math.log(s);
  return Float64Array.from(row, (v) => v - lse);
}

/** Our logits rows [L][V] for one sequence, and `extra` greedy ids after it. */
function ours(model: MambaLM, prompt: number[], extra: number): { rows: Float32Array[]; greedy: number[] } {
  const L = prompt.length;
  const V = model.vocabPadded;
  let { logits, state } = model.forward(cpu.upload(Int32Array.from(prompt), [1, L]), model.initState(1, L + extra));
  const all = host(logits);
  const rows = prompt.map((_, l) => all.slice(l * V, (l + 1) * V));
  const greedy: number[] = [];
  let last: Float32Array = rows[L - 1];
  while (greedy.length < extra) {
    const next = argmaxNonZero(last);
    greedy.push(next);
    ({ logits, state } = model.step(cpu.upload(Int32Array.of(next), [1]), state));
    last = host(logits);
  }
  return { rows, greedy };
}

for (const name of ['mamba1-tiny', 'mamba2-tiny']) {
  test(`hf/${name} written as GGUF by mamba-ts: llama.cpp's log-probs and greedy ids equal ours`, async (t) => {
    const l = await llama();
    if (typeof l === 'string') return t.skip(l);
    const dir = path.join(FIXTURES, 'hf', name);
    const src = readCheckpoint(dir);
    const file = path.join(tmp, `${name}.gguf`);
    writeGgufModel(file, src.config, src.weights, { type: 'f32', name });
    const expected = readSafetensors(path.join(dir, 'expected.safetensors'));
    const ids = expected.get('input_ids')!;
    const prompt = [...ids.data.subarray(0, ids.shape[1])];
    const greedyIds = [...expected.get('greedy_ids')!.data];
    const model = await loadModel(dir, cpu);
    const theirs = await llamaRun(l, file, model.vocabPadded, prompt, greedyIds.length);
    const mine = ours(model, prompt, greedyIds.length);
    let err = 0;
    mine.rows.forEach((row, i) => {
      const lp = logSoftmax(row);
      for (let v = 0; v < lp.length; v++) err = Math.max(err, Math.abs(lp[v] - theirs.logp[i][v]));
    });
    t.diagnostic(`max |log p| difference over ${prompt.length} positions: ${err.toExponential(2)}`);
    assert.ok(err < 1e-4, `log-prob difference ${err}`);
    assert.deepEqual(theirs.greedy, mine.greedy);
    assert.deepEqual(mine.greedy, greedyIds);
  });
}

/** Seeded random ids [B, L] over the vocabulary (id 0 excluded). */
function randomIds(B: number, L: number, V: number, seed: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: B }, () => Array.from({ length: L }, () => 1 + Math.floor(r() * (V - 1))));
}

function top1(rows: ArrayLike<number>[]): number[] {
  return rows.map((row) => {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
    return best;
  });
}

function agreement(a: number[], b: number[]): number {
  return a.filter((x, i) => x === b[i]).length / a.length;
}

/**
 * Sane floors, well below what the tiny random models give (q8_0 97-100%, q4_0 ~60%: with d_model
 * 64 and random weights, 4-bit noise is large next to the logit gaps) and far above chance (1/300).
 */
const QUANT_FLOOR: Record<string, number> = { q8_0: 0.9, q4_0: 0.4 };

for (const type of ['q8_0', 'q4_0'] as GgufFileType[]) {
  test(`${type}: top-1 agreement with f32 over 400 positions, here and in llama.cpp`, async (t) => {
    const l = await llama();
    const results: string[] = [];
    for (const name of ['mamba1-tiny', 'mamba2-tiny']) {
      const dir = path.join(FIXTURES, 'hf', name);
      const src = readCheckpoint(dir);
      const file = path.join(tmp, `${name}-${type}.gguf`);
      writeGgufModel(file, src.config, src.weights, { type, name });
      const f32 = await loadModel(dir, cpu);
      const quant = await loadModel(file, cpu);
      const seqs = randomIds(4, 100, f32.vocabPadded, 7);
      const ref: number[] = [];
      const got: number[] = [];
      for (const s of seqs) {
        ref.push(...top1(ours(f32, s, 0).rows));
        got.push(...top1(ours(quant, s, 0).rows));
      }
      const here = agreement(got, ref);
      results.push(`${name} mamba-ts ${(100 * here).toFixed(1)}%`);
      assert.ok(here >= QUANT_FLOOR[type], `${name} ${type}: top-1 agreement ${here}`);
      if (typeof l === 'string') continue;
      // llama.cpp loads the quantized file; its top-1 agrees with the f32 reference too
      const theirs = top1((await llamaRun(l, file, f32.vocabPadded, seqs[0], 0)).logp);
      const there = agreement(theirs, ref.slice(0, seqs[0].length));
      // the same quantized weights in both: only llama.cpp's q8 activations in its dot products differ
      const same = agreement(theirs, got.slice(0, seqs[0].length));
      results.push(`${name} llama.cpp ${(100 * there).toFixed(1)}% (100 positions; with mamba-ts on the same file ${(100 * same).toFixed(1)}%)`);
      assert.ok(there >= QUANT_FLOOR[type], `${name} ${type} in llama.cpp: top-1 agreement ${there}`);
      assert.ok(same >= 0.9, `${name} ${type}: llama.cpp and mamba-ts agree on ${same} of the top-1 ids`);
    }
    t.diagnostic(results.join(', '));
    if (typeof l === 'string') t.skip(`llama.cpp half: ${l}`);
  });
}

test('a GGUF with the GPT-NeoX tokenizer.json: llama.cpp tokenizes as Hugging Face tokenizers does', async (t) => {
  const l = await llama();
  if (typeof l === 'string') return t.skip(l);
  const neox = path.join(FIXTURES, 'tokenizers', 'gpt-neox-20b');
  const cases = (JSON.parse(fs.readFileSync(path.join(neox, 'cases.json'), 'utf8')) as { cases: { text: string; ids: number[] }[] }).cases;
  // mamba1-tiny with an embedding for this tokenizer's 50281 ids, padded to a multiple of 8
  const src = readCheckpoint(path.join(FIXTURES, 'hf', 'mamba1-tiny'));
  const rows = 50288;
  const r = rng(3);
  const config = { ...src.config, vocabSize: rows };
  const weights = new Map(src.weights);
  weights.set('embedding.weight', { shape: [rows, config.dModel], dtype: 'f32', data: Float32Array.from({ length: rows * config.dModel }, () => r() - 0.5) });
  const file = path.join(tmp, 'neox.gguf');
  writeGgufModel(file, config, weights, { type: 'f32', name: 'neox', tokenizerFile: path.join(neox, 'tokenizer.json'), special: { bos: 0, eos: 0 } });
  const model = await l.loadModel({ modelPath: file });
  try {
    for (const c of cases) {
      assert.deepEqual(model.tokenize(c.text, true).map(Number), c.ids, JSON.stringify(c.text));
      assert.equal(model.detokenize(c.ids as Token[], true), c.text, JSON.stringify(c.text));
    }
    t.diagnostic(`${cases.length} cases`);
  } finally {
    await model.dispose();
  }
});
