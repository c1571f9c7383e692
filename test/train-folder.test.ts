import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { runTrain } from '../src/cli/train.js';
import { UserError } from '../src/errors.js';
import { readSafetensors, readSafetensorsMetadata } from '../src/io/safetensors.js';
import { layerStackConfig } from '../src/train/architecture.js';
import { formatDuration, parseInterval } from '../src/train/duration.js';
import type { TrainOptions } from '../src/train/options.js';
import { readTrainState, STATE_FILE, writeTrainState } from '../src/train/train-state.js';
import { train, type TrainRun } from '../src/train/trainer.js';

const cpu = new CpuBackend();
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mamba-ts-folder-'));
const options: TrainOptions = {
  steps: 4, batchSize: 2, accumulate: 1, lr: 3e-3, minLr: 3e-4, warmupSteps: 1, weightDecay: 0.1, beta1: 0.9, beta2: 0.95,
  eps: 1e-8, clip: 1, evalEvery: 4, evalBatches: 1, logEvery: 1, checkpointEvery: { steps: 2 }, seed: 1,
};
const run: TrainRun = {
  model: layerStackConfig({ layers: 'mamba2', dModel: 16, dState: 4, expand: 2, headDim: 8, heads: 2, dIntermediate: 0, vocabSize: 8 }),
  data: { kind: 'task', task: 'induction-heads', options: { vocab: 8, length: 12 }, evalSeed: 5 }, options,
};
const quiet = { backend: cpu };
const rejects = (p: Promise<unknown> | (() => unknown), re: RegExp) => (typeof p === 'function'
  ? assert.throws(p, (e: unknown) => e instanceof UserError && re.test(e.message), String(re))
  : assert.rejects(p, (e: unknown) => e instanceof UserError && re.test(e.message), String(re)));

test('a stale lock (dead pid) is taken over, orphaned temp files go, and a model not of the state\'s step is rebuilt on resume', async () => {
  const dir = tmp();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  fs.writeFileSync(path.join(dir, 'train.lock'), JSON.stringify({ pid: dead, host: os.hostname() }));
  fs.writeFileSync(path.join(dir, '.train-state.safetensors.999.1.tmp'), 'half a checkpoint');
  const stop = new AbortController();
  const s = await train(run, { ...quiet, outDir: dir, signal: stop.signal, onStep: (k) => { if (k === 3) stop.abort(); } });
  assert.deepEqual([s.status, s.step], ['interrupted', 3]);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp') || f === 'train.lock'), []);
  assert.deepEqual(readSafetensorsMetadata(path.join(dir, 'model.safetensors'))['mamba_ts.step'], '3');
  // a kill between the state and the model write: the model is of step 2, the state of step 3
  const state = readTrainState(dir);
  const early = path.join(tmp(), 'early');
  await train({ ...run, options: { ...options, steps: 2 } }, { ...quiet, outDir: early });
  fs.copyFileSync(path.join(early, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  await train({ ...run, options: { ...options, steps: 3 } }, { ...quiet, outDir: dir, resume: state });
  assert.equal(readSafetensorsMetadata(path.join(dir, 'model.safetensors'))['mamba_ts.step'], '3');
  const model = readSafetensors(path.join(dir, 'model.safetensors'));
  assert.deepEqual(model.get('backbone.layers.0.mixer.in_proj.weight')!.data, state.params.get('layers.0.mixer.in_proj.weight')!.data);
});

test('train-state metadata is validated field by field: NaN RNG, negative step, unknown option, bad model', async () => {
  const dir = path.join(tmp(), 'run');
  await train(run, { ...quiet, outDir: dir });
  const good = readTrainState(dir);
  const file = path.join(dir, STATE_FILE);
  const bad = (change: (m: Record<string, unknown>) => void, re: RegExp) => {
    const meta = structuredClone(good.meta) as unknown as Record<string, unknown>;
    change(meta);
    writeTrainState(dir, { ...good, meta: meta as unknown as typeof good.meta });
    rejects(() => readTrainState(dir), re);
  };
  const where = `${file} metadata: field`;
  bad((m) => { m.rng = NaN; }, new RegExp(`^${where} "rng" must be a number \\(got NaN\\)$`));
  bad((m) => { m.step = -1; }, new RegExp(`^${where} "step" must be a non-negative integer`));
  bad((m) => { (m.options as Record<string, unknown>).momentum = 0.9; }, new RegExp(`^${file} metadata: unknown field "options.momentum"$`));
  bad((m) => { (m.options as Record<string, unknown>).beta2 = 1; }, new RegExp(`^${where} "options.beta2" must be in \\[0, 1\\)`));
  bad((m) => { (m.options as Record<string, unknown>).checkpointEvery = { steps: 2, seconds: 5 }; }, /field "options.checkpointEvery" must be/);
  bad((m) => { (m.pendingLoss as Record<string, unknown>).sum = Infinity; }, /field "pendingLoss.sum" must be a finite number/);
  bad((m) => { (m.data as Record<string, unknown>).task = 'nope'; }, /field "data.task" must be one of/);
  bad((m) => { (m.model as Record<string, unknown>).dModel = 32; }, /field "model" does not describe the stored parameters \(config.json disagrees/);
  bad((m) => { m.step = 99; }, /field "optimizerStep" must equal the step \(99\)/);
});

test('--data refuses a FIFO and an empty path; absurd task sizes are refused before any allocation; --checkpoint-every', async () => {
  const dir = tmp();
  const fifo = path.join(dir, 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  await rejects(runTrain(['--out', path.join(dir, 'a'), '--data', fifo, '--steps', '1']), new RegExp(`^--data ${fifo}: not a regular file or folder \\(a FIFO\\)$`));
  await rejects(runTrain(['--out', path.join(dir, 'a'), '--data', '/dev/zero', '--steps', '1']), /^--data \/dev\/zero: not a regular file or folder \(a device\)$/);
  await rejects(runTrain(['--out', path.join(dir, 'a'), '--data=', '--steps', '1']), /^--data: empty path$/);
  await rejects(runTrain(['--out', path.join(dir, 'a'), '--task', 'mqar', '--seq-len', '1000000000']),
    /^--seq-len: 1000000000 is out of range \(must be >= 1 and <= 16777216\)$/);
  await rejects(runTrain(['--out', path.join(dir, 'a'), '--task', 'mqar', '--seq-len', '10000000']),
    /^--batch-size 8 x sequence length 10000000 = 80000000 tokens per batch, more than the limit of 16777216/);
  await rejects(runTrain(['--out', path.join(dir, 'a'), '--task', 'mqar', '--checkpoint-every', '10x']), /^--checkpoint-every 10x: expected a step count/);
  assert.ok(!fs.existsSync(path.join(dir, 'a')));
  assert.deepEqual([parseInterval('500', 'f'), parseInterval('90s', 'f'), parseInterval('10m', 'f'), parseInterval('1.5h', 'f')],
    [{ steps: 500 }, { seconds: 90 }, { seconds: 600 }, { seconds: 5400 }]);
  assert.deepEqual([539.6, 59.4, 59.6, 3599.7, 7262].map(formatDuration), ['9m00s', '59s', '1m00s', '1h00m', '2h01m']);
});

test('metrics.jsonl has the training loss at every logging interval; time-based checkpoints', async () => {
  const dir = path.join(tmp(), 'run');
  await train({ ...run, options: { ...options, steps: 5, logEvery: 2, evalEvery: 4, checkpointEvery: { seconds: 3600 } } }, { ...quiet, outDir: dir });
  const m = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(m.map((r) => [r.step, r.loss !== undefined, r.trainLoss !== undefined]),
    [[0, true, false], [2, false, true], [4, true, true], [5, true, true]]);
  assert.equal(readTrainState(dir).meta.step, 5);
});
