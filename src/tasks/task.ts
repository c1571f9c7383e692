/**
 * Synthetic tasks: seeded generators of (inputs, targets) pairs for next-token training, scored
 * by exact match on the answer positions only. A target is the token the model must predict at
 * that input position; -1 marks positions that are neither trained nor scored.
 */
import { UserError } from '../errors.js';
import type { Mulberry32 } from '../rng.js';

export const IGNORE = -1;

/** inputs and targets are i32 [batch, length], row-major. */
export interface Batch {
  batch: number;
  length: number;
  inputs: Int32Array;
  targets: Int32Array;
}

export interface Task {
  readonly name: string;
  /** token ids are in [0, vocabSize) */
  readonly vocabSize: number;
  /** the length of every generated sequence */
  readonly length: number;
  /** `batch` fresh sequences, drawing only from `rng` */
  sample(rng: Mulberry32, batch: number): Batch;
}

export interface Accuracy {
  /** answer tokens predicted exactly / answer tokens */
  accuracy: number;
  /** sequences with every answer token right / sequences */
  sequenceAccuracy: number;
  answers: number;
}

/**
 * Exact-match accuracy of `predicted` ids (argmax per position, i32 [B, L]) against `targets`,
 * counting only positions whose target is not IGNORE.
 */
export function answerAccuracy(predicted: Int32Array, b: Batch): Accuracy {
  let right = 0, answers = 0, seqRight = 0;
  for (let s = 0; s < b.batch; s++) {
    let all = true;
    for (let i = s * b.length; i < (s + 1) * b.length; i++) {
      if (b.targets[i] === IGNORE) continue;
      answers++;
      if (predicted[i] === b.targets[i]) right++;
      else all = false;
    }
    if (all) seqRight++;
  }
  return { accuracy: answers ? right / answers : 0, sequenceAccuracy: b.batch ? seqRight / b.batch : 0, answers };
}

/** A batch of `batch` sequences of `length`, all targets IGNORE, filled row by row by `row`. */
export function buildBatch(batch: number, length: number, row: (inputs: Int32Array, targets: Int32Array) => void): Batch {
  const inputs = new Int32Array(batch * length);
  const targets = new Int32Array(batch * length).fill(IGNORE);
  for (let s = 0; s < batch; s++) {
    row(inputs.subarray(s * length, (s + 1) * length), targets.subarray(s * length, (s + 1) * length));
  }
  return { batch, length, inputs, targets };
}

/** Throws a UserError naming the task option that is not an integer >= min. */
export function checkInt(task: string, option: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new UserError(`task ${task}: ${option} must be an integer >= ${min}, got ${v}`);
}

/** A task family: its options (all integers here) with defaults, and how to build a task. */
export interface TaskSpec<O extends Record<string, number> = Record<string, number>> {
  name: string;
  summary: string;
  defaults: O;
  /** the option that `--seq-len` sets (lengths beyond training are tested through it) */
  lengthOption: keyof O & string;
  create(options: O): Task;
}
