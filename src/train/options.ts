import type { Interval } from './duration.js';

/** The knobs of a training run; saved in every checkpoint so that --resume continues the same run. */
export interface TrainOptions {
  /** optimizer updates in the whole run (the cosine schedule ends here) */
  steps: number;
  /** sequences per micro-batch */
  batchSize: number;
  /** micro-batches whose gradients are averaged into one update */
  accumulate: number;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** global gradient-norm bound; 0 = no clipping */
  clip: number;
  /** evaluate every this many steps (and at the start and the end) */
  evalEvery: number;
  /** batches of `batchSize` sequences per evaluation */
  evalBatches: number;
  /** record the mean training loss in metrics.jsonl every this many steps */
  logEvery: number;
  /** write a resumable checkpoint every this many steps or seconds (and at the end and on a signal) */
  checkpointEvery: Interval;
  /** seeds the initial weights and the training batches */
  seed: number;
}
