/**
 * Where training batches come from: windows of a token stream (language modelling: every next
 * token is a target) or a synthetic task (only answer positions are targets and accuracy is
 * scored). The trainer sees only this interface.
 */
import type { Batch, Task } from '../../tasks/task.js';
import { Mulberry32 } from '../../rng.js';
import { checkFits, type TokenSplit } from './tokens.js';

export interface DataSource {
  readonly vocabSize: number;
  /** for the log, e.g. "brown: 5.4M train / 0.6M validation tokens" */
  readonly description: string;
  /** whether evaluation reports exact-match accuracy on answer positions */
  readonly scoresAnswers: boolean;
  /** i32 [batch, length] inputs and targets; draws only from `rng` */
  trainBatch(rng: Mulberry32, batch: number): Batch;
  /** the same `count` batches at every evaluation */
  evalBatches(batch: number, count: number): Batch[];
}

export function textSource(name: string, split: TokenSplit, vocabSize: number, length: number): DataSource {
  checkFits(split.train, length, 'training');
  checkFits(split.validation, length, 'validation');
  const m = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : `${n}`);
  return {
    vocabSize,
    description: `${name}: ${m(split.train.length)} training / ${m(split.validation.length)} validation tokens`,
    scoresAnswers: false,
    trainBatch: (rng, batch) => {
      const starts = Array.from({ length: batch }, () => rng.int(split.train.length - length));
      return windows(split.train, starts, length);
    },
    evalBatches: (batch, count) => spacedWindows(split.validation, length, batch, count),
  };
}

/** `count` batches of `batch` windows evenly spaced over all of `tokens`, no randomness. */
export function spacedWindows(tokens: Int32Array, length: number, batch: number, count: number): Batch[] {
  const n = batch * count;
  const span = tokens.length - length - 1;
  const starts = Array.from({ length: n }, (_, i) => Math.floor((i * span) / Math.max(1, n - 1)));
  return Array.from({ length: count }, (_, k) => windows(tokens, starts.slice(k * batch, (k + 1) * batch), length));
}

/** inputs = tokens[s, s+L), targets = tokens[s+1, s+L+1) for each start s. */
function windows(tokens: Int32Array, starts: number[], length: number): Batch {
  const inputs = new Int32Array(starts.length * length);
  const targets = new Int32Array(starts.length * length);
  starts.forEach((s, b) => {
    inputs.set(tokens.subarray(s, s + length), b * length);
    targets.set(tokens.subarray(s + 1, s + length + 1), b * length);
  });
  return { batch: starts.length, length, inputs, targets };
}

/** A synthetic task; evaluation batches come from a fixed seed apart from training's stream. */
export function taskSource(task: Task, evalSeed: number): DataSource {
  return {
    vocabSize: task.vocabSize,
    description: `task ${task.name}: sequences of ${task.length} tokens, vocab ${task.vocabSize}`,
    scoresAnswers: true,
    trainBatch: (rng, batch) => task.sample(rng, batch),
    evalBatches: (batch, count) => {
      const rng = new Mulberry32(evalSeed);
      return Array.from({ length: count }, () => task.sample(rng, batch));
    },
  };
}
