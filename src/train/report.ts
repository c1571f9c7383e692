/**
 * What a run leaves beside its model for people: metrics.jsonl (one JSON object per logging
 * interval with the training loss; evaluations add the validation loss and accuracy) and plot.svg
 * (loss, and accuracy for tasks, against steps). Both are rewritten whole, atomically, at every
 * record, so they always agree with each other.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { writeTextAtomic } from '../io/files.js';
import { svgPlot, type Panel } from './plot.js';

export interface MetricRecord {
  step: number;
  /** training tokens seen */
  tokens: number;
  /** validation loss (mean cross-entropy over scored positions, nats); only in the records of evaluations */
  loss?: number;
  /** mean training loss since the previous record (absent at step 0) */
  trainLoss?: number;
  /** exact-match accuracy on answer positions (tasks only) */
  accuracy?: number;
  sequenceAccuracy?: number;
  lr: number;
  /** training tokens per second of step time (not evaluations, not checkpoints), in this process */
  tokensPerSecond: number;
}

export const METRICS_FILE = 'metrics.jsonl';
export const PLOT_FILE = 'plot.svg';

export function writeReports(dir: string, records: readonly MetricRecord[]): void {
  writeTextAtomic(path.join(dir, METRICS_FILE), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const pts = (f: (r: MetricRecord) => number | undefined) =>
    records.filter((r) => f(r) !== undefined).map((r) => [r.step, f(r)!] as const);
  const panels: Panel[] = [{
    title: 'loss (nats)',
    series: [{ name: 'validation', points: pts((r) => r.loss) }, { name: 'training', points: pts((r) => r.trainLoss) }],
  }];
  if (records.some((r) => r.accuracy !== undefined)) {
    panels.push({
      title: 'answer accuracy', yRange: [0, 1],
      series: [{ name: 'per token', points: pts((r) => r.accuracy) }, { name: 'per sequence', points: pts((r) => r.sequenceAccuracy) }],
    });
  }
  writeTextAtomic(path.join(dir, PLOT_FILE), svgPlot(panels, 'step'));
}

/** The records of an earlier run up to `step` (a resumed run drops what came after its checkpoint). */
export function readMetrics(dir: string, step: number): MetricRecord[] {
  const file = path.join(dir, METRICS_FILE);
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').flatMap((line, i) => {
    if (!line.trim()) return [];
    try {
      return [JSON.parse(line) as MetricRecord];
    } catch (e) {
      throw new UserError(`${file}:${i + 1}: not JSON (${(e as Error).message})`);
    }
  }).filter((r) => r.step <= step);
}
