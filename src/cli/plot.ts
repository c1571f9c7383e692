/**
 * Line plots as standalone SVG (no browser, no dependency): one panel per quantity, stacked,
 * shared x axis (steps), "nice" ticks, a legend per panel. Good enough to glance at a run;
 * `writeTrainPlot` draws a training run's metrics records as plot.svg.
 */
import * as path from 'node:path';
import { writeTextAtomic } from '../io/files.js';
import type { MetricRecord } from '../train/metrics.js';

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

export interface Panel {
  title: string;
  series: readonly Series[];
  /** fixed y range (e.g. [0, 1] for accuracy); otherwise fitted to the data */
  yRange?: [number, number];
}

const W = 640, H = 240, M = { left: 60, right: 130, top: 28, bottom: 36 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

export function svgPlot(panels: readonly Panel[], xLabel: string): string {
  const body = panels.map((p, i) => `<g transform="translate(0,${i * H})">${panel(p, xLabel)}</g>`).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H * panels.length}" font-family="sans-serif" font-size="11">\n`
    + `<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}

function panel(p: Panel, xLabel: string): string {
  const pts = p.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map(([x]) => x), ys = pts.map(([, y]) => y);
  const [x0, x1] = span(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1);
  const [y0, y1] = p.yRange ?? span(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1);
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => M.top + (1 - (y - y0) / (y1 - y0)) * ph;
  const out: string[] = [`<text x="${M.left}" y="18" font-size="13" font-weight="bold">${esc(p.title)}</text>`];
  for (const t of ticks(x0, x1)) {
    out.push(`<line x1="${f(sx(t))}" y1="${M.top}" x2="${f(sx(t))}" y2="${M.top + ph}" stroke="#eee"/>`,
      `<text x="${f(sx(t))}" y="${M.top + ph + 14}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    out.push(`<line x1="${M.left}" y1="${f(sy(t))}" x2="${M.left + pw}" y2="${f(sy(t))}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>`);
  p.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const d = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .map(([x, y], k) => `${k ? 'L' : 'M'}${f(sx(x))},${f(sy(Math.min(y1, Math.max(y0, y))))}`).join('');
    if (d) out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    const ly = M.top + 12 + 16 * i;
    out.push(`<line x1="${M.left + pw + 10}" y1="${ly - 4}" x2="${M.left + pw + 28}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${M.left + pw + 32}" y="${ly}">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/** A range that is never empty, padded a little so lines do not run along the frame. */
function span(lo: number, hi: number): [number, number] {
  if (hi - lo < 1e-12) return [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/** About five round-numbered ticks (1, 2 or 5 times a power of ten apart) inside [lo, hi]. */
export function ticks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * p;
  const out: number[] = [];
  // k * step rounded, not a running sum: multiples of 0.2 should print as 0.6, not 0.6000000000000001
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return out;
}

const f = (v: number) => v.toFixed(1);
const fmt = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export const PLOT_FILE = 'plot.svg';

/** plot.svg of a run: loss (validation and training), and answer accuracy for tasks, against steps */
export function writeTrainPlot(dir: string, records: readonly MetricRecord[]): void {
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
