/**
 * The training progress bar (cli-progress, on stderr): step, loss, tokens/s and ETA, with the
 * evaluation lines printed above it. Off the terminal (a log file, CI) the bar is not drawn and
 * the evaluation lines go to stderr as they come. The ETA is ours (duration.ts): cli-progress's
 * own prints `8m60s`.
 */
import cliProgress from 'cli-progress';
import { formatDuration } from './duration.js';

export interface TrainProgress {
  update(step: number, payload: { loss: number; tps: number; etaSeconds: number }): void;
  log(line: string): void;
  stop(): void;
}

export function trainProgress(total: number, start: number, draw: boolean): TrainProgress {
  if (!draw || !process.stderr.isTTY) {
    return { update: () => {}, log: (line) => process.stderr.write(`${line}\n`), stop: () => {} };
  }
  const multi = new cliProgress.MultiBar({
    format: 'train [{bar}] {value}/{total} | loss {loss} | {tps} tok/s | ETA {eta}',
    stream: process.stderr, hideCursor: true, barsize: 24,
  }, cliProgress.Presets.shades_classic);
  const bar = multi.create(total, start, { loss: '-', tps: '-', eta: '-' });
  return {
    update: (step, p) => bar.update(step, { loss: p.loss.toFixed(4), tps: Math.round(p.tps), eta: formatDuration(p.etaSeconds) }),
    log: (line) => multi.log(`${line}\n`),
    stop: () => multi.stop(),
  };
}
