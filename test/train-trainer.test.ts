import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainReporter } from '../src/cli/progress.js';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { UserError } from '../src/errors.js';
import { readCheckpoint } from '../src/io/checkpoint.js';
import { layerStackConfig } from '../src/train/architecture.js';
import { textSpec, type DataSpec } from '../src/train/data/spec.js';
import type { TrainOptions } from '../src/train/options.js';
import { readTrainState, STATE_FILE } from '../src/train/train-state.js';
import { DIVERGED_EXIT_CODE, train, type TrainRun } from '../src/train/trainer.js';

const cpu = new CpuBackend();
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mamba-ts-train-'));

const task: DataSpec = { kind: 'task', task: 'induction-heads', options: { vocab: 8, length: 12 }, evalSeed: 5 };
const options: TrainOptions = {
  steps: 6, batchSize: 3, accumulate: 2, lr: 3e-3, minLr: 3e-4, warmupSteps: 2, weightDecay: 0.1, beta1: 0.9, beta2: 0.95,
  eps: 1e-8, clip: 1, evalEvery: 4, evalBatches: 1, logEvery: 100, checkpointEvery: { steps: 2 }, seed: 7,
};
/** a hybrid so that the Mamba-2 scan, attention, the MLP and the tied embedding all train */
const run: TrainRun = {
  model: layerStackConfig({ layers: 'mamba2,attention', dModel: 16, dState: 4, expand: 2, headDim: 8, heads: 2, dIntermediate: 128, vocabSize: 8 }),
  data: task, options,
};
const quiet = { backend: cpu };
const bytes = (f: string) => fs.readFileSync(f);

test('resume continues bit-identically: parameters, AdamW moments and metrics equal an uninterrupted run', async () => {
  const whole = tmp(), split = tmp();
  const a = await train(run, { ...quiet, outDir: whole, reporter: trainReporter(whole, false) });
  assert.equal(a.status, 'completed');
  const stop = new AbortController();
  const b = await train(run, { ...quiet, outDir: split, signal: stop.signal, onStep: (s) => { if (s === 3) stop.abort(); } });
  assert.deepEqual([b.status, b.step], ['interrupted', 3]);
  const saved = readTrainState(split);
  assert.equal(saved.meta.step, 3);
  const c = await train(run, { ...quiet, outDir: split, resume: saved });
  assert.deepEqual([c.status, c.step, c.tokens], ['completed', 6, a.tokens]);
  const sa = readTrainState(whole), sc = readTrainState(split);
  assert.equal(sc.optimizer.step, 6);
  for (const [name, t] of sa.params) assert.deepEqual(sc.params.get(name)!.data, t.data, name);
  for (const [name, t] of sa.optimizer.m) assert.deepEqual(sc.optimizer.m.get(name)!.data, t.data, `m ${name}`);
  for (const [name, t] of sa.optimizer.v) assert.deepEqual(sc.optimizer.v.get(name)!.data, t.data, `v ${name}`);
  assert.deepEqual(bytes(path.join(split, 'model.safetensors')), bytes(path.join(whole, 'model.safetensors')));
  const metrics = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')
    .map((l) => { const { tokensPerSecond: _, ...r } = JSON.parse(l); return r; });
  assert.deepEqual(metrics(split), metrics(whole));
  assert.deepEqual(metrics(whole).map((r) => r.step), [0, 4, 6]);
  assert.ok(metrics(whole).every((r) => r.accuracy >= 0 && r.accuracy <= 1 && Number.isFinite(r.loss)));
  // the saved model is a checkpoint the rest of the library loads (mamba_ssm format: a hybrid)
  const ck = readCheckpoint(whole);
  assert.equal(ck.format, 'mamba_ssm');
  assert.deepEqual(ck.weights.get('layers.1.mixer.in_proj.weight')!.data, sa.params.get('layers.1.mixer.in_proj.weight')!.data);
  assert.match(fs.readFileSync(path.join(whole, 'plot.svg'), 'utf8'), /^<svg[^]*answer accuracy[^]*<\/svg>\n$/);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(whole, 'summary.json'), 'utf8')).status, 'completed');
});

test('a non-finite loss stops the run with one clear message; the last good checkpoint stays', async () => {
  const dir = tmp();
  const huge = { ...run, options: { ...options, lr: 1e30, minLr: 1e30, warmupSteps: 0, clip: 0, weightDecay: 0, checkpointEvery: { steps: 1 } } };
  const steps: number[] = [];
  await assert.rejects(train(huge, { ...quiet, outDir: dir, onStep: (s) => steps.push(s) }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.exitCode, DIVERGED_EXIT_CODE);
    const failed = steps.length + 1;
    assert.match(e.message, new RegExp(`^step ${failed}: the training loss is (NaN|-?Infinity) .* stopped before updating the weights; `
      + `the last good checkpoint \\(step ${failed - 1}\\) is in `));
    return true;
  });
  assert.ok(steps.length >= 1);
  const st = readTrainState(dir);
  assert.equal(st.meta.step, steps.length);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).status, 'diverged');
});

test('a full disk while checkpointing keeps the previous checkpoint intact and says so', async () => {
  const dir = tmp();
  const opts = { ...options, evalEvery: 100, checkpointEvery: { steps: 2 } };
  let before: Buffer | undefined;
  const original = fs.writeSync;
  const fail = () => {
    before = bytes(path.join(dir, STATE_FILE));
    fs.writeSync = (() => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }); }) as typeof fs.writeSync;
    syncBuiltinESMExports();
  };
  try {
    await assert.rejects(train({ ...run, options: opts }, { ...quiet, outDir: dir, onStep: (s) => { if (s === 3) fail(); } }),
      (e: unknown) => e instanceof UserError && /^step 4: writing the checkpoint failed \(.*cannot write \(ENOSPC\)\); the checkpoint of step 2 in .* is intact$/.test(e.message));
  } finally {
    fs.writeSync = original;
    syncBuiltinESMExports();
  }
  assert.deepEqual(bytes(path.join(dir, STATE_FILE)), before);
  assert.equal(readTrainState(dir).meta.step, 2);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('training learns: byte-level loss on a repetitive text falls far below chance', async () => {
  const dir = tmp();
  const file = path.join(dir, 'abc.txt');
  fs.writeFileSync(file, 'the cat sat on the mat. '.repeat(60));
  const r: TrainRun = {
    model: layerStackConfig({ layers: 'mamba1', dModel: 16, dState: 4, expand: 2, headDim: 8, heads: 2, dIntermediate: 0, vocabSize: 256 }),
    data: textSpec(file, undefined, 0.2, 24),
    options: { ...options, steps: 40, accumulate: 1, batchSize: 4, lr: 1e-2, minLr: 1e-3, warmupSteps: 4, evalEvery: 40, checkpointEvery: { steps: 40 } },
  };
  await train(r, { ...quiet, outDir: path.join(dir, 'out') });
  const m = fs.readFileSync(path.join(dir, 'out', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(m[0].loss > 5, `initial loss ${m[0].loss} (ln 256 = 5.55)`);
  assert.ok(m[1].loss < 3, `final loss ${m[1].loss}`);
});

test('gradient accumulation: 2 micro-batches of B update as one batch of 2B', async () => {
  const dir = tmp();
  const file = path.join(dir, 'text.txt');
  fs.writeFileSync(file, 'Selective state spaces remember what matters and forget the rest. '.repeat(20));
  const base: TrainRun = {
    model: layerStackConfig({ layers: 'mamba2', dModel: 16, dState: 4, expand: 2, headDim: 8, heads: 2, dIntermediate: 0, vocabSize: 256 }),
    data: textSpec(file, undefined, 0.2, 16),
    // a large eps makes the update depend on the gradient's scale (Adam alone is nearly scale-free)
    options: { ...options, steps: 3, evalEvery: 3, checkpointEvery: { steps: 3 }, eps: 1e-2 },
  };
  // text windows are drawn start by start from one stream: 2 draws of B are the same windows as 1 of 2B
  await train({ ...base, options: { ...base.options, batchSize: 2, accumulate: 2 } }, { ...quiet, outDir: path.join(dir, 'acc') });
  await train({ ...base, options: { ...base.options, batchSize: 4, accumulate: 1 } }, { ...quiet, outDir: path.join(dir, 'big') });
  const a = readTrainState(path.join(dir, 'acc')), b = readTrainState(path.join(dir, 'big'));
  let diff = 0;
  for (const [name, t] of a.params) {
    const u = b.params.get(name)!.data;
    t.data.forEach((x, i) => { diff = Math.max(diff, Math.abs(x - u[i])); });
  }
  assert.ok(diff < 1e-6, `max parameter difference ${diff}`);
  assert.equal(a.meta.tokens, 3 * 4 * 16);
  const trainLoss = (d: string) => JSON.parse(fs.readFileSync(path.join(dir, d, 'metrics.jsonl'), 'utf8').trim().split('\n')[1]).trainLoss;
  assert.ok(Math.abs(trainLoss('acc') - trainLoss('big')) < 1e-6);
});
