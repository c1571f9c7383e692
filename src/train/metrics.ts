/**
 * metrics.jsonl, what a run leaves beside its model: one JSON object per logging interval with
 * the training loss; evaluations add the validation loss and accuracy. Rewritten whole,
 * atomically, at every record (a front door's plot of the same records then agrees with it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { writeTextAtomic } from '../io/files.js';

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

export function writeMetrics(dir: string, records: readonly MetricRecord[]): void {
  writeTextAtomic(path.join(dir, METRICS_FILE), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
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
