/**
 * Durations as people type and read them: `--checkpoint-every 10m` (a step count or a time) and
 * the progress bar's ETA, `9m00s` (cli-progress rounds the seconds after flooring the minutes and
 * prints `8m60s`).
 */
import { UserError } from '../errors.js';

/** Every this many optimizer steps, or every this many seconds of wall time. */
export type Interval = { steps: number } | { seconds: number };

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** "500" (steps), "90s", "10m", "1.5h" (time); `flag` names the flag in errors. */
export function parseInterval(text: string, flag: string): Interval {
  const m = /^(\d+(?:\.\d+)?)([smh]?)$/.exec(text.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!m || !(n > 0) || (m[2] === '' && !Number.isSafeInteger(n))) {
    throw new UserError(`${flag} ${text}: expected a step count (e.g. 500) or a time (e.g. 90s, 10m, 1h)`);
  }
  return m[2] === '' ? { steps: n } : { seconds: n * UNITS[m[2]] };
}

export function formatInterval(i: Interval): string {
  return 'steps' in i ? `${i.steps} step${i.steps === 1 ? '' : 's'}` : formatDuration(i.seconds);
}

/** 59 -> "59s", 540 -> "9m00s", 3725 -> "1h02m"; whole seconds, rounded once, before splitting. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${pad(m % 60)}m`;
}
