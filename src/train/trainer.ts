/**
 * The training loop (the Mamba papers' recipe: AdamW, linear warmup + cosine decay, gradient
 * clipping), on any backend:
 *
 *   per step: `accumulate` micro-batches -> forward + cross-entropy -> backward (autograd) ->
 *   summed gradients -> global norm -> one AdamW update scaled by clip / accumulate.
 *
 * It evaluates at the start, every `evalEvery` steps and at the end (metrics.jsonl, plot.svg),
 * and checkpoints every `checkpointEvery` steps and at the end: train-state.safetensors
 * (parameters, AdamW moments, step, RNG) for --resume, and model.safetensors + config.json for
 * everything else. A resumed run draws the same batches and makes the same updates as one that
 * never stopped. A non-finite loss or gradient stops the run before it touches the weights.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { valueAndGrad } from '../autograd/index.js';
import type { Backend } from '../backend/backend.js';
import { tidy } from '../backend/scope.js';
import { UserError } from '../errors.js';
import type { HostTensor } from '../io/host-tensor.js';
import { writeCheckpoint } from '../io/checkpoint.js';
import { writeTextAtomic } from '../io/files.js';
import { stringifyJson } from '../io/json.js';
import { MambaLM } from '../model/lm.js';
import { randomWeights } from '../model/presets.js';
import { uploadWeights } from '../model/weights.js';
import type { ModelConfig } from '../model/config.js';
import * as ops from '../ops/index.js';
import { IGNORE } from '../tasks/task.js';
import type { Tensor } from '../tensor.js';
import { AdamW } from './adamw.js';
import { clipScale, globalGradNorm } from './clip.js';
import { openData, type DataSpec } from './data/spec.js';
import { evaluate } from './evaluate.js';
import type { TrainOptions } from './options.js';
import { trainProgress } from './progress.js';
import { readMetrics, writeReports, type MetricRecord } from './report.js';
import { Rng } from './rng.js';
import { lrAt } from './schedule.js';
import { writeTrainState, type TrainMeta, type TrainState } from './state.js';

export interface TrainRun {
  model: ModelConfig;
  data: DataSpec;
  options: TrainOptions;
}

export interface TrainContext {
  backend: Backend;
  /** where checkpoints, metrics, plot and summary go */
  outDir: string;
  /** continue from this checkpoint (its run must be `run`) */
  resume?: TrainState;
  /** when aborted, the run stops after the current step and checkpoints it (Ctrl-C) */
  signal?: AbortSignal;
  /** draw the progress bar (when stderr is a terminal) */
  progress?: boolean;
  /** called after every optimizer step */
  onStep?: (step: number, loss: number) => void;
}

export interface TrainSummary {
  status: 'completed' | 'interrupted' | 'diverged';
  step: number;
  tokens: number;
  /** wall time of this process's part of the run */
  seconds: number;
  tokensPerSecond: number;
  parameters: number;
  data: string;
  /** the last evaluation */
  loss?: number;
  accuracy?: number;
  sequenceAccuracy?: number;
}

export const SUMMARY_FILE = 'summary.json';
/** the data and options of the run, for people and for `mamba-ts eval` (task options) */
export const RUN_FILE = 'run.json';
/** exit code of a run stopped by a non-finite loss (bad input is 2) */
export const DIVERGED_EXIT_CODE = 3;

export async function train(run: TrainRun, ctx: TrainContext): Promise<TrainSummary> {
  const o = run.options;
  const { backend: be, outDir, resume } = ctx;
  const { source } = openData(run.data);
  if (run.model.vocabSize < source.vocabSize) {
    throw new UserError(`the model's vocabulary (${run.model.vocabSize}) is smaller than the data's (${source.vocabSize})`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  writeTextAtomic(path.join(outDir, RUN_FILE), stringifyJson({ data: run.data, options: o }));
  const model = new MambaLM(run.model, uploadWeights(resume?.params ?? randomWeights(run.model, o.seed), be), be);
  const params = model.parameters();
  const opt = new AdamW(params, { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay });
  if (resume) opt.load(resume.optimizer);
  const schedule = { lr: o.lr, minLr: o.minLr, warmupSteps: o.warmupSteps, totalSteps: o.steps };
  // batches draw from their own stream: the weights' seed must not replay as batch positions
  const rng = resume ? Rng.fromState(resume.meta.rng) : new Rng((o.seed ^ 0x5bd1e995) >>> 0);
  let step = resume?.meta.step ?? 0;
  let tokens = resume?.meta.tokens ?? 0;
  let pending = resume ? { ...resume.meta.pendingLoss } : { sum: 0, count: 0 };
  let lastCheckpoint = resume ? step : undefined;
  const records: MetricRecord[] = resume ? readMetrics(outDir, step) : [];
  const evalBatches = source.evalBatches(o.batchSize, o.evalBatches);
  const started = performance.now();
  // throughput counts the steps only, not evaluations and checkpoints
  let runTokens = 0, stepSeconds = 0;
  const tps = () => runTokens / Math.max(1e-9, stepSeconds);
  const bar = trainProgress(o.steps, step, ctx.progress ?? true);

  const summary = (status: TrainSummary['status']): TrainSummary => {
    const last = records[records.length - 1];
    const s: TrainSummary = {
      status, step, tokens, seconds: (performance.now() - started) / 1000, tokensPerSecond: tps(),
      parameters: model.paramCount(), data: source.description,
      ...(last && { loss: last.loss, accuracy: last.accuracy, sequenceAccuracy: last.sequenceAccuracy }),
    };
    writeTextAtomic(path.join(outDir, SUMMARY_FILE), JSON.stringify(s, null, 2) + '\n');
    return s;
  };

  const record = async (): Promise<void> => {
    const ev = await evaluate(model, evalBatches, source.scoresAnswers);
    const r: MetricRecord = {
      step, tokens, loss: ev.loss, ...(pending.count > 0 && { trainLoss: pending.sum / pending.count }),
      ...(ev.accuracy !== undefined && { accuracy: ev.accuracy, sequenceAccuracy: ev.sequenceAccuracy }),
      lr: step > 0 ? lrAt(step, schedule) : 0, tokensPerSecond: tps(),
    };
    pending = { sum: 0, count: 0 };
    records.push(r);
    writeReports(outDir, records);
    bar.log(formatRecord(r, o.steps));
  };

  const checkpoint = async (): Promise<void> => {
    const host = new Map<string, HostTensor>();
    for (const [name, p] of params) host.set(name, { shape: [...p.shape], dtype: 'f32', data: await p.read() });
    const meta: TrainMeta = { step, tokens, rng: rng.state, pendingLoss: pending, model: run.model, data: run.data, options: o };
    try {
      writeTrainState(outDir, { meta, params: host, optimizer: await opt.state() });
      writeCheckpoint(outDir, run.model, host);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      const kept = lastCheckpoint !== undefined ? `the checkpoint of step ${lastCheckpoint} in ${outDir} is intact` : 'no earlier checkpoint exists';
      throw new UserError(`step ${step}: writing the checkpoint failed (${e.message}); ${kept}`);
    }
    lastCheckpoint = step;
  };

  try {
    if (!resume) await record();
    while (step < o.steps && !ctx.signal?.aborted) {
      step++;
      const stepStart = performance.now();
      const losses: Tensor[] = [];
      let grads: Map<string, Tensor> | undefined;
      for (let k = 0; k < o.accumulate; k++) {
        const b = source.trainBatch(rng, o.batchSize);
        const ids = be.upload(b.inputs, [b.batch, b.length]);
        const targets = be.upload(b.targets, [b.batch, b.length]);
        // activations and the tape's intermediates go back to the pool; the loss and grads stay
        const out = tidy(() => valueAndGrad(() => ops.crossEntropy(model.forward(ids).logits, targets, IGNORE), params));
        losses.push(out.loss);
        grads = grads ? addInto(grads, out.grads) : out.grads;
        for (const t of [ids, targets]) t.dispose();
        tokens += b.batch * b.length;
        runTokens += b.batch * b.length;
      }
      // the losses and the gradient norm come back together: one wait on the device per step
      const [lossValues, gradNorm] = await Promise.all([Promise.all(losses.map((l) => l.read())), globalGradNorm([...grads!.values()], be)]);
      for (const l of losses) l.dispose();
      let lossSum = 0;
      for (const v of lossValues) lossSum += v[0];
      const loss = lossSum / o.accumulate;
      const norm = gradNorm / o.accumulate;
      const finite = Number.isFinite(loss) && Number.isFinite(norm);
      if (finite) opt.update(grads!, lrAt(step, schedule), clipScale(norm, o.clip) / o.accumulate);
      for (const g of grads!.values()) g.dispose();
      if (!finite) {
        step--;
        summary('diverged');
        const kept = lastCheckpoint !== undefined
          ? `the last good checkpoint (step ${lastCheckpoint}) is in ${outDir}` : 'no checkpoint had been written yet';
        throw new UserError(`step ${step + 1}: the training loss is ${loss} (gradient norm ${norm}); stopped before updating the weights; `
          + `${kept}. Try a lower --lr, a longer --warmup or --clip 1`, DIVERGED_EXIT_CODE);
      }
      stepSeconds += (performance.now() - stepStart) / 1000;
      pending.sum += loss;
      pending.count++;
      bar.update(step, { loss, tps: tps() });
      ctx.onStep?.(step, loss);
      // a step never waits on a timer or I/O: let the bar redraw and a Ctrl-C (SIGINT) arrive
      await new Promise((resolve) => setImmediate(resolve));
      if (step % o.evalEvery === 0 || step === o.steps) await record();
      if (step % o.checkpointEvery === 0 || step === o.steps || ctx.signal?.aborted) await checkpoint();
    }
  } finally {
    bar.stop();
    // the model and its optimizer die with the run: give their device memory back now
    opt.dispose();
    for (const p of params.values()) p.dispose();
  }
  return summary(step === o.steps ? 'completed' : 'interrupted');
}

/** sum += g for every parameter (the sum's tensors are replaced; accumulation outside any tape). */
function addInto(sum: Map<string, Tensor>, g: Map<string, Tensor>): Map<string, Tensor> {
  for (const [name, t] of g) {
    const prev = sum.get(name)!;
    sum.set(name, ops.add(prev, t));
    prev.dispose();
    t.dispose();
  }
  return sum;
}

function formatRecord(r: MetricRecord, total: number): string {
  const parts = [`step ${r.step}/${total}`, `val loss ${r.loss.toFixed(4)}`];
  if (r.trainLoss !== undefined) parts.push(`train loss ${r.trainLoss.toFixed(4)}`);
  if (r.accuracy !== undefined) parts.push(`accuracy ${(100 * r.accuracy).toFixed(1)}%`);
  if (r.step > 0) parts.push(`${Math.round(r.tokensPerSecond)} tok/s`);
  return parts.join(' | ');
}
