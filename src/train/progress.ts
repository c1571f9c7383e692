/**
 * The training progress bar (cli-progress, on stderr): step, loss, tokens/s and ETA, with the
 * evaluation lines printed above it. Off the terminal (a log file, CI) the bar is not drawn and
 * the evaluation lines go to stderr as they come.
 */
import cliProgress from 'cli-progress';

export interface TrainProgress {
  update(step: number, payload: { loss: number; tps: number }): void;
  log(line: string): void;
  stop(): void;
}

export function trainProgress(total: number, start: number, draw: boolean): TrainProgress {
  if (!draw || !process.stderr.isTTY) {
    return { update: () => {}, log: (line) => process.stderr.write(`${line}\n`), stop: () => {} };
  }
  const multi = new cliProgress.MultiBar({
    format: 'train [{bar}] {value}/{total} | loss {loss} | {tps} tok/s | ETA {eta_formatted}',
    stream: process.stderr, hideCursor: true, barsize: 24, etaBuffer: 20,
  }, cliProgress.Presets.shades_classic);
  const bar = multi.create(total, start, { loss: '-', tps: '-' });
  return {
    update: (step, p) => bar.update(step, { loss: p.loss.toFixed(4), tps: Math.round(p.tps) }),
    log: (line) => multi.log(`${line}\n`),
    stop: () => multi.stop(),
  };
}
