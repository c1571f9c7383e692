/**
 * A progress bar on stderr for the long commands (bench, demo), drawn only when stderr is a
 * terminal: redirected into a log, bar redraws are noise, so a single line says what runs instead.
 */
import cliProgress from 'cli-progress';

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
