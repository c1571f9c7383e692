/**
 * Progress on stderr for the long commands, one module: `startProgress` (bench: phases of a
 * measurement) and `trainReporter` (train, demo: step, loss, tokens/s and ETA, the evaluation
 * lines above the bar, plot.svg rewritten at every metrics record). Bars are drawn only when
 * stderr is a terminal: redirected into a log, redraws are noise, so lines say what runs instead.
 */
import cliProgress from 'cli-progress';
import { formatDuration } from '../train/duration.js';
import type { TrainReporter } from '../train/trainer.js';
import { writeTrainPlot } from './plot.js';

export interface Progress {
  /** advances by `n` units and names what runs now */
  tick(n: number, phase: string): void;
  /** removes the bar (call before printing results) */
  done(): void;
}

export function startProgress(label: string, total: number, firstPhase: string): Progress {
  if (!process.stderr.isTTY) {
    process.stderr.write(`mamba-ts: ${label} (progress bar off: stderr is not a terminal)\n`);
    return { tick: () => {}, done: () => {} };
  }
  const bar = new cliProgress.SingleBar({
    format: `${label} [{bar}] {percentage}% | {phase} | {duration_formatted}`,
    stream: process.stderr,
    clearOnComplete: true,
    hideCursor: true,
    barsize: 30,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { phase: firstPhase });
  return {
    tick: (n, phase) => bar.increment(n, { phase }),
    done: () => bar.stop(),
  };
}

/**
 * The reporter of `train` and `demo`: a bar when `draw` and stderr is a terminal (lines otherwise),
 * and `outDir`/plot.svg of the run's records. The ETA is formatDuration's: cli-progress's own
 * prints `8m60s`.
 */
export function trainReporter(outDir: string, draw: boolean): TrainReporter {
  const records = (r: Parameters<NonNullable<TrainReporter['records']>>[0]) => writeTrainPlot(outDir, r);
  const lines: TrainReporter = { log: (line) => process.stderr.write(`${line}\n`), records };
  if (!draw || !process.stderr.isTTY) return lines;
  const multi = new cliProgress.MultiBar({
    format: 'train [{bar}] {value}/{total} | loss {loss} | {tps} tok/s | ETA {eta}',
    stream: process.stderr, hideCursor: true, barsize: 24,
  }, cliProgress.Presets.shades_classic);
  let bar: cliProgress.SingleBar | undefined;
  return {
    start: (total, from) => { bar = multi.create(total, from, { loss: '-', tps: '-', eta: '-' }); },
    log: (line) => multi.log(`${line}\n`),
    update: (step, p) => bar?.update(step, { loss: p.loss.toFixed(4), tps: Math.round(p.tokensPerSecond), eta: formatDuration(p.etaSeconds) }),
    records,
    stop: () => multi.stop(),
  };
}
