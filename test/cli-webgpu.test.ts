/**
 * `--device webgpu` end to end (SwiftShader in CI): every command runs on the GPU, agrees with the
 * reference fixtures within the WebGPU tolerance, releases the device so that the process exits,
 * and writes nothing else to stderr. In this process, the loops behind the commands (generate,
 * bench, eval, train) are held to flat device memory from step to step.
 *
 * Each CLI run compiles its pipelines afresh (seconds each on SwiftShader), so two run at a time
 * beside this process's own loops, on the fixtures' own small shapes.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { measureSpeed } from '../src/cli/measure.js';
import { generate, generateAll } from '../src/generate/generate.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadModel } from '../src/model/load.js';
import { makeTask } from '../src/tasks/index.js';
import { layerStackConfig } from '../src/train/architecture.js';
import { evaluate } from '../src/train/evaluate.js';
import { Mulberry32 } from '../src/rng.js';
import { train, type TrainRun } from '../src/train/trainer.js';
import { maxAbsDiff } from './cpu-util.js';
import { cliAsync, FIXTURES, ROOT, tempDir, type CliResult } from './cli-util.js';
import { openTestGpu } from './webgpu-util.js';

const { gpu, skip } = await openTestGpu();
after(() => gpu?.destroy());

const TOL = 1e-3;
const M2 = `${FIXTURES}/hf/mamba2-tiny`;
const M1 = `${FIXTURES}/hf/mamba1-tiny`;
const out = tempDir();
const expected = (dir: string) => readSafetensors(resolve(ROOT, dir, 'expected.safetensors'));
const webgpu = (...args: string[]) => cliAsync([...args, '--device', 'webgpu']);

/** a run that succeeded; stderr holds at most the lines `allowed` matches (no Dawn diagnostics) */
function ok(r: CliResult, allowed = /^$/): void {
  assert.equal(r.code, 0, r.stderr);
  for (const line of r.stderr.split('\n').filter((l) => l)) assert.match(line, allowed, `unexpected stderr: ${r.stderr}`);
}

const pool = gpu?.rt.pool;
const inUse = () => pool!.allocatedBytes - pool!.pooledBytes;

/**
 * Runs `loop`, which calls `sample` once a step: from the third step on, the pool must neither
 * grow nor hold more in use, and once the loop is over it holds in use what it held before.
 */
async function assertFlat(what: string, loop: (sample: () => void) => Promise<unknown>): Promise<void> {
  const before = inUse();
  const steps: number[][] = [];
  await loop(() => steps.push([pool!.allocatedBytes, inUse()]));
  assert.ok(steps.length >= 5, `${what}: ${steps.length} steps`);
  steps.slice(2).forEach((s, i) => assert.deepEqual(s, steps[2], `${what}: step ${i + 3}: [allocated, in use] bytes differ from step 3's ${steps[2]}`));
  assert.equal(inUse(), before, `${what}: bytes in use after the loop`);
}

/** a tiny Mamba-2 on a tiny task, evaluated only before and after its steps */
const RUN: TrainRun = {
  model: layerStackConfig({ layers: 'mamba2*2', dModel: 16, dState: 4, expand: 2, headDim: 8, heads: 2, dIntermediate: 0, vocabSize: 8 }),
  data: { kind: 'task', task: 'induction-heads', options: { vocab: 8, length: 12 }, evalSeed: 5 },
  options: {
    steps: 6, batchSize: 2, accumulate: 2, lr: 3e-3, minLr: 3e-4, warmupSteps: 2, weightDecay: 0.1, beta1: 0.9, beta2: 0.95,
    eps: 1e-8, clip: 1, evalEvery: 100, evalBatches: 1, logEvery: 100, checkpointEvery: { steps: 100 }, seed: 7,
  },
};

// three at a time: this process's own GPU loops run while two CLI runs compile theirs
describe('--device webgpu', { concurrency: 3 }, () => {
  test('device memory stays flat in the loops of the commands', { skip }, async (t) => {
    await t.test('generate (greedy on the device, and sampling) and bench', async () => {
      const model = await loadModel(resolve(ROOT, M2), gpu!);
      const prompt = [...expected(M2).get('input_ids')!.data.subarray(0, 5)];
      for (const temperature of [0, 0.8]) {
        await assertFlat(`generate, temperature ${temperature}`, async (sample) => {
          for await (const _ of generate(model, [prompt], { maxNewTokens: 8, temperature, seed: 1 })) sample();
        });
      }
      // two prompts of different lengths (concatBatch); the shorter stops at its second token (selectBatch)
      const short = prompt.slice(0, 3);
      const stopIds = [(await generateAll(model, [short], { maxNewTokens: 2, temperature: 0 })).ids[0][1]];
      const made = [0, 0];
      await assertFlat('generate, two prompts', async (sample) => {
        for await (const s of generate(model, [prompt, short], { maxNewTokens: 8, temperature: 0, stopIds })) {
          s.tokens.forEach((id, b) => id !== null && made[b]++);
          sample();
        }
      });
      assert.deepEqual(made, [8, 2], 'the second sequence left the batch after two tokens');
      await assertFlat('bench', (sample) => measureSpeed(model, 2, 4, 6, { tick: sample, done: () => {} }));
    });
    await t.test('train (forward, backward, accumulation, AdamW) and eval', async () => {
      const dir = tempDir();
      await assertFlat('train', (sample) => train(RUN, { backend: gpu!, outDir: dir, onStep: sample }));
      const model = await loadModel(dir, gpu!);
      const task = makeTask('induction-heads', { vocab: 8, length: 12 });
      const rng = new Mulberry32(3);
      await assertFlat('eval', async (sample) => {
        for (let i = 0; i < 5; i++) {
          await evaluate(model, [task.sample(rng, 2)], true);
          sample();
        }
      });
    });
  });

  // the longest runs first
  test(`${M2}: grads within ${TOL} relative of the reference loss and gradients`, { skip }, async (t) => {
    const file = join(out, 'grads.safetensors');
    ok(await webgpu('grads', '--model', M2, '--input', `${M2}/expected.safetensors`, '--out', file), /^mamba-ts: wrote /);
    const got = readSafetensors(file);
    const want = expected(M2);
    const keys = [...want.keys()].filter((k) => k === 'loss' || k.startsWith('grad.')).sort();
    assert.deepEqual([...got.keys()].sort(), keys);
    let worst = 0;
    for (const k of keys) {
      const ref = want.get(k)!.data;
      const rel = maxAbsDiff(got.get(k)!.data, ref) / Math.max(...Array.from(ref, Math.abs));
      worst = Math.max(worst, rel);
      assert.ok(rel < TOL, `${k}: relative error ${rel}`);
    }
    t.diagnostic(`worst relative error over loss and ${keys.length - 1} gradients: ${worst.toExponential(2)}`);
  });

  test('train writes a checkpoint the CPU loads, with a finite loss; eval scores it', { skip }, async () => {
    const dir = join(out, 'run');
    const trained = await webgpu('train', '--out', dir, '--task', 'induction-heads', '--task-options', 'vocab=8', '--seq-len', '12',
      '--steps', '2', '--d-model', '16', '--d-state', '4', '--head-dim', '8', '--batch-size', '2', '--eval-batches', '1', '--no-progress');
    ok(trained, /^(step \d\/2 \| val loss |mamba-ts: (\d+ parameters, |compiling shaders))/);
    const summary = JSON.parse(trained.stdout);
    assert.deepEqual([summary.status, summary.step], ['completed', 2]);
    assert.ok(Number.isFinite(summary.loss), `loss ${summary.loss}`);
    const model = await loadModel(dir, new CpuBackend());
    const logits = await model.forward(model.backend.upload(Int32Array.of(1, 2, 3), [1, 3])).logits.read();
    assert.ok(logits.every(Number.isFinite));
    const ev = await webgpu('eval', '--model', dir, '--task', 'induction-heads', '--batches', '1', '--batch-size', '2');
    ok(ev);
    const r = JSON.parse(ev.stdout);
    assert.ok(r.accuracy >= 0 && r.accuracy <= 1 && Number.isFinite(r.loss), ev.stdout);
  });

  for (const dir of [M2, M1]) {
    const ref = expected(dir);
    const input = `${dir}/expected.safetensors`;
    for (const recurrent of [false, true]) {
      test(`${dir}: logits${recurrent ? ' --recurrent' : ''} within ${TOL} of the reference`, { skip }, async (t) => {
        const file = join(out, `${dir.replace(/\W/g, '_')}${recurrent ? '-rec' : ''}.safetensors`);
        ok(await webgpu('logits', '--model', dir, '--input', input, '--out', file, ...(recurrent ? ['--recurrent'] : [])), /^mamba-ts: wrote /);
        const got = readSafetensors(file).get('logits')!;
        assert.deepEqual(got.shape, ref.get('logits')!.shape);
        const err = maxAbsDiff(got.data, ref.get('logits')!.data);
        t.diagnostic(`max abs error ${err.toExponential(2)}`);
        assert.ok(err < TOL, `max abs error ${err}`);
      });
    }

    test(`${dir}: greedy generate --ids-only equals greedy_ids`, { skip }, async () => {
      const ids = ref.get('input_ids')!;
      const greedy = ref.get('greedy_ids')!;
      const r = await webgpu('generate', '--model', dir, '--prompt-ids', [...ids.data.subarray(0, ids.shape[1])].join(','),
        '--temperature', '0', '--ids-only', '--max-new-tokens', String(greedy.data.length));
      ok(r, /^mamba-ts: 12 new tokens; prefill \d+ tokens .*; decode 11 tokens /);
      assert.equal(r.stdout, [...greedy.data].join(',') + '\n');
    });
  }

  test('bench --json names the adapter and measures both phases', { skip }, async () => {
    const r = await webgpu('bench', '--model', M2, '--prompt', '4', '--new-tokens', '3', '--json');
    ok(r, /^mamba-ts: bench .* \(progress bar off: stderr is not a terminal\)$/);
    const j = JSON.parse(r.stdout);
    assert.match(j.device, /^webgpu \(.+\)$/);
    assert.deepEqual([j.batch, j.prompt, j.new_tokens], [1, 4, 3]);
    assert.ok(j.prefill_tokens_per_s > 0 && j.decode_tokens_per_s > 0, r.stdout);
  });

  test('info prints what it prints on the CPU', { skip }, async () => {
    const r = await webgpu('info', '--model', M2);
    ok(r);
    assert.equal(r.stdout, (await cliAsync(['info', '--model', M2])).stdout);
  });

  test('without an adapter: one line naming the device, exit code 2', { skip: process.platform !== 'linux' && 'Vulkan ICDs are a Linux matter' }, async () => {
    // no Vulkan driver: Dawn finds no adapter (its own diagnostics come first, from native code)
    const r = await cliAsync(['info', '--model', M2, '--device', 'webgpu'], { ...process.env, VK_ICD_FILENAMES: join(out, 'none.json') });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.match(lines[lines.length - 1], /^mamba-ts: device webgpu: no WebGPU device could be opened: WebGPU: no adapter \(/);
    assert.doesNotMatch(r.stderr, /^mamba-ts: .*\n\s+at /m, 'no stack trace of ours');
  });
});
