/**
 * The training loop (the Mamba papers' recipe: AdamW, linear warmup + cosine decay, gradient
 * clipping), on any backend:
 *
 *   per step: `accumulate` micro-batches -> forward + cross-entropy -> backward (autograd) ->
 *   summed gradients -> global norm -> one AdamW update scaled by clip / accumulate.
 *
 * It records the training loss every `logEvery` steps and evaluates at the start, every
 * `evalEvery` steps and at the end (metrics.jsonl, plot.svg), and checkpoints every
 * `checkpointEvery` steps or seconds, at the end and when stopped: train-state.safetensors
 * (parameters, AdamW moments, step, RNG) for --resume, then model.safetensors + config.json,
 * which carry the step of the state they belong to (a pair a kill split is repaired on resume).
 * A resumed run draws the same batches and makes the same updates as one that never stopped.
 * A non-finite loss or gradient stops the run before it touches the weights. The --out folder is
 * locked for the whole run (out-folder.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { valueAndGrad } from '../autograd/index.js';
import type { Backend } from '../backend/backend.js';
import { tidy } from '../backend/scope.js';
import { UserError } from '../errors.js';
import type { HostTensor } from '../io/host-tensor.js';
import { writeCheckpoint } from '../io/checkpoint.js';
import { readSafetensorsMetadata } from '../io/safetensors.js';
import { writeTextAtomic } from '../io/files.js';
import { stringifyJson } from '../io/json.js';
import { MambaLM } from '../model/lm.js';
import { randomWeights } from '../model/presets.js';
import { uploadWeights } from '../model/weights.js';
import type { ModelConfig } from '../config.js';
import * as ops from '../ops/index.js';
import { IGNORE } from '../tasks/task.js';
import type { Tensor } from '../tensor.js';
import { AdamW } from './adamw.js';
import { clipScale, globalGradNorm } from './clip.js';
import { BROWN } from './data/corpus.js';
import { openData, type DataSpec } from './data/spec.js';
import { formatInterval } from './duration.js';
import { evaluate } from './evaluate.js';
import type { TrainOptions } from './options.js';
import { lockOutFolder, removeOrphanTemps } from './out-folder.js';
import { readMetrics, writeMetrics, type MetricRecord } from './metrics.js';
import { Mulberry32 } from '../rng.js';
import { lrAt } from './schedule.js';
import type { SaveAs } from './state-meta.js';
import { STATE_FILE, writeTrainState, type TrainMeta, type TrainState } from './train-state.js';

export interface TrainRun {
  model: ModelConfig;
  data: DataSpec;
  options: TrainOptions;
  /** save as the checkpoint a fine-tune started from (its format and config fields) */
  saveAs?: SaveAs;
}

export interface TrainContext {
  backend: Backend;
  /** where checkpoints, metrics, plot and summary go */
  outDir: string;
  /** continue from this checkpoint (its run must be `run`) */
  resume?: TrainState;
  /** the initial weights of a new run (fine-tuning); random (seeded) without */
  weights?: Map<string, HostTensor>;
  /** when aborted, the run stops at the end of the current step and checkpoints it (Ctrl-C) */
  signal?: AbortSignal;
  /** how the run shows itself (a front door's progress bar and plots); lines on stderr without */
  reporter?: TrainReporter;
  /** called after every optimizer step */
  onStep?: (step: number, loss: number) => void;
}

/**
 * What a run tells the one who started it. The trainer only calls these; drawing a bar, printing,
 * plotting the records are the front door's (cli/progress.ts).
 */
export interface TrainReporter {
  /** before anything else: the run goes to `total` steps from `from` (a resume) */
  start?(total: number, from: number): void;
  /** a line for people: notes, evaluations */
  log(line: string): void;
  /** after every optimizer step */
  update?(step: number, stats: { loss: number; tokensPerSecond: number; etaSeconds: number }): void;
  /** after every metrics record, with all the records of the run so far */
  records?(records: readonly MetricRecord[]): void;
  /** the run ended, however it ended */
  stop?(): void;
}

/** The reporter of a run without one: its lines on stderr. */
const STDERR_LINES: TrainReporter = { log: (line) => process.stderr.write(`${line}\n`) };

export interface TrainSummary {
  status: 'completed' | 'interrupted' | 'diverged';
  step: number;
  tokens: number;
  /** wall time of the whole run, over resumes (a killed process's time since its last checkpoint is lost) */
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
/** model.safetensors metadata: the step of the train state the weights belong to */
const MODEL_STEP_KEY = 'mamba_ts.step';

export async function train(run: TrainRun, ctx: TrainContext): Promise<TrainSummary> {
  const bar = ctx.reporter ?? STDERR_LINES;
  const note = (line: string) => bar.log(line);
  const release = lockOutFolder(ctx.outDir, note);
  try {
    const orphans = removeOrphanTemps(ctx.outDir);
    if (orphans.length) note(`mamba-ts: ${ctx.outDir}: removed ${orphans.length} temporary file(s) of an interrupted write`);
    if (ctx.resume) repairModel(run, ctx.outDir, ctx.resume, note);
    // output from the first second: the bar (or a line) before the data is read and step 0 evaluated
    bar.start?.(run.options.steps, ctx.resume?.meta.step ?? 0);
    try {
      return await trainLocked(run, ctx, bar);
    } finally {
      bar.stop?.();
    }
  } finally {
    release();
  }
}

async function trainLocked(run: TrainRun, ctx: TrainContext, bar: TrainReporter): Promise<TrainSummary> {
  const o = run.options;
  const { backend: be, outDir, resume } = ctx;
  if (run.data.kind === 'text') bar.log(`mamba-ts: reading ${run.data.path === BROWN ? 'the Brown corpus' : run.data.path}...`);
  const { source } = openData(run.data);
  if (run.model.vocabSize < source.vocabSize) {
    throw new UserError(`the model's vocabulary (${run.model.vocabSize}) is smaller than the data's (${source.vocabSize})`);
  }
  writeTextAtomic(path.join(outDir, RUN_FILE), stringifyJson({ data: run.data, options: o }));
  if (!resume && run.data.kind === 'text' && run.data.tokenizer) {
    const copy = path.join(outDir, 'tokenizer.json');
    if (path.resolve(run.data.tokenizer) !== path.resolve(copy)) fs.copyFileSync(run.data.tokenizer, copy);
  }
  const model = new MambaLM(run.model, uploadWeights(resume?.params ?? ctx.weights ?? randomWeights(run.model, o.seed), be), be);
  const params = model.parameters();
  const opt = new AdamW(params, { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay });
  if (resume) opt.load(resume.optimizer);
  const schedule = { lr: o.lr, minLr: o.minLr, warmupSteps: o.warmupSteps, totalSteps: o.steps };
  // batches draw from their own stream: the weights' seed must not replay as batch positions
  const rng = resume ? Mulberry32.fromState(resume.meta.rng) : new Mulberry32((o.seed ^ 0x5bd1e995) >>> 0);
  let step = resume?.meta.step ?? 0;
  let tokens = resume?.meta.tokens ?? 0;
  let pending = resume ? { ...resume.meta.pendingLoss } : { sum: 0, count: 0 };
  let lastCheckpoint = resume ? step : undefined;
  const records: MetricRecord[] = resume ? readMetrics(outDir, step) : [];
  const evalBatches = source.evalBatches(o.batchSize, o.evalBatches);
  const started = performance.now();
  const elapsed = () => (resume?.meta.seconds ?? 0) + (performance.now() - started) / 1000;
  // throughput counts the steps only, not evaluations and checkpoints
  let runTokens = 0, stepSeconds = 0;
  const tps = () => runTokens / Math.max(1e-9, stepSeconds);
  let checkpointedAt = performance.now();
  const checkpointDue = () => ('steps' in o.checkpointEvery
    ? step % o.checkpointEvery.steps === 0
    : (performance.now() - checkpointedAt) / 1000 >= o.checkpointEvery.seconds);

  const summary = (status: TrainSummary['status']): TrainSummary => {
    const last = [...records].reverse().find((r) => r.loss !== undefined);
    const s: TrainSummary = {
      status, step, tokens, seconds: elapsed(), tokensPerSecond: tps(),
      parameters: model.paramCount(), data: source.description,
      ...(last && { loss: last.loss, accuracy: last.accuracy, sequenceAccuracy: last.sequenceAccuracy }),
    };
    writeTextAtomic(path.join(outDir, SUMMARY_FILE), JSON.stringify(s, null, 2) + '\n');
    return s;
  };

  const record = async (withEvaluation: boolean): Promise<void> => {
    const ev = withEvaluation ? await evaluate(model, evalBatches, source.scoresAnswers) : undefined;
    const r: MetricRecord = {
      step, tokens, ...(ev && { loss: ev.loss }), ...(pending.count > 0 && { trainLoss: pending.sum / pending.count }),
      ...(ev?.accuracy !== undefined && { accuracy: ev.accuracy, sequenceAccuracy: ev.sequenceAccuracy }),
      lr: step > 0 ? lrAt(step, schedule) : 0, tokensPerSecond: tps(),
    };
    pending = { sum: 0, count: 0 };
    records.push(r);
    writeMetrics(outDir, records);
    bar.records?.(records);
    if (ev) bar.log(formatRecord(r, o.steps));
  };

  const checkpoint = async (): Promise<void> => {
    const host = new Map<string, HostTensor>();
    for (const [name, p] of params) host.set(name, { shape: [...p.shape], dtype: 'f32', data: await p.read() });
    const meta: TrainMeta = {
      step, tokens, rng: rng.state, pendingLoss: pending, seconds: elapsed(), model: run.model, data: run.data, options: o,
      ...(run.saveAs && { saveAs: run.saveAs }),
    };
    try {
      writeTrainState(outDir, { meta, params: host, optimizer: await opt.state() });
      writeCheckpoint(outDir, run.model, host, run.saveAs, { [MODEL_STEP_KEY]: String(step) });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      const kept = lastCheckpoint !== undefined ? `the checkpoint of step ${lastCheckpoint} in ${outDir} is intact` : 'no earlier checkpoint exists';
      throw new UserError(`step ${step}: writing the checkpoint failed (${e.message}); ${kept}`);
    }
    lastCheckpoint = step;
    checkpointedAt = performance.now();
  };

  let loopStart = 0;
  const firstStep = step;
  const eta = () => ((performance.now() - loopStart) / 1000 / (step - firstStep)) * (o.steps - step);
  try {
    bar.log(`mamba-ts: ${model.paramCount()} parameters, ${source.description}; checkpoints every ${formatInterval(o.checkpointEvery)} in ${outDir}`);
    // the first forward pass builds every pipeline: say why the first second is quiet
    if (be.compilesKernels) bar.log('mamba-ts: compiling shaders...');
    if (!resume) await record(true);
    loopStart = performance.now();
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
      bar.update?.(step, { loss, tokensPerSecond: tps(), etaSeconds: eta() });
      ctx.onStep?.(step, loss);
      // a step never waits on a timer or I/O: let the bar redraw and a signal arrive, so that
      // a Ctrl-C during this step stops the run at its end
      await new Promise((resolve) => setImmediate(resolve));
      const evaluateNow = step % o.evalEvery === 0 || step === o.steps;
      if (evaluateNow || step % o.logEvery === 0) await record(evaluateNow);
      if (step < o.steps && !ctx.signal?.aborted && checkpointDue()) await checkpoint();
    }
    // the end of the run, or a signal (also one during step 0's evaluation)
    if (lastCheckpoint !== step) await checkpoint();
  } finally {
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

/**
 * A checkpoint whose model.safetensors is not of the train state's step (killed between the two
 * writes, or the model file lost) gets its model rewritten from the state, which is the commit point.
 */
function repairModel(run: TrainRun, outDir: string, state: TrainState, note: (line: string) => void): void {
  const file = path.join(outDir, 'model.safetensors');
  let step: string | undefined;
  try {
    step = readSafetensorsMetadata(file)[MODEL_STEP_KEY];
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
  }
  if (step === String(state.meta.step)) return;
  note(`mamba-ts: ${file} is not the model of step ${state.meta.step} (a checkpoint write was interrupted); rewriting it from ${STATE_FILE}`);
  writeCheckpoint(outDir, run.model, state.params, run.saveAs, { [MODEL_STEP_KEY]: String(state.meta.step) });
}

function formatRecord(r: MetricRecord, total: number): string {
  const parts = [`step ${r.step}/${total}`, `val loss ${r.loss!.toFixed(4)}`];
  if (r.trainLoss !== undefined) parts.push(`train loss ${r.trainLoss.toFixed(4)}`);
  if (r.accuracy !== undefined) parts.push(`accuracy ${(100 * r.accuracy).toFixed(1)}%`);
  if (r.step > 0) parts.push(`${Math.round(r.tokensPerSecond)} tok/s`);
  return parts.join(' | ');
}
