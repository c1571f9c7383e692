/**
 * Download progress on stderr: a bar with bytes, rate and ETA on a terminal; redirected into a
 * log, one line per file instead (as progress.ts does for bench and demo).
 */
import cliProgress from 'cli-progress';
import type { DownloadProgress } from '../io/hub/download.js';

export const downloadProgress: DownloadProgress = {
  start(label, total, done) {
    const size = total === undefined ? 'size unknown' : formatBytes(total);
    if (!process.stderr.isTTY || total === undefined) {
      process.stderr.write(`mamba-ts: downloading ${label} (${size}${done > 0 ? `, resuming at ${formatBytes(done)}` : ''})\n`);
      return { update: () => {}, done: () => {} };
    }
    const bar = new cliProgress.SingleBar({
      format: `${label} [{bar}] {percentage}% | {got} / ${size} | {rate} | ETA {eta_formatted}`,
      stream: process.stderr,
      clearOnComplete: true,
      hideCursor: true,
      barsize: 30,
    }, cliProgress.Presets.shades_classic);
    const t0 = performance.now();
    const first = done;
    bar.start(total, done, { got: formatBytes(done), rate: '-' });
    return {
      update: (n) => {
        const seconds = (performance.now() - t0) / 1000;
        bar.update(n, { got: formatBytes(n), rate: seconds > 0 ? `${formatBytes((n - first) / seconds)}/s` : '-' });
      },
      done: () => bar.stop(),
    };
  },
};

function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  for (; n >= 1000 && u < units.length - 1; u++) n /= 1000;
  return `${u === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[u]}`;
}
