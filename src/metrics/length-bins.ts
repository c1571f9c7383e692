/**
 * Corpus BLEU per source-length bin, for length-extrapolation curves (Pitorro et al. 2024, §5:
 * quality as the source grows past the training lengths). A source's length is its number of
 * 13a tokens (the model's own tokenizer is not known to a metric); bins are half-open
 * [edge_i, edge_i+1), the last one open-ended, so every segment lands in exactly one.
 */
import { addStats, bleuFromStats, bleuTokens, emptyStats, segmentStats, type BleuScore } from './bleu.js';

/** the paper's analysis bins (scripts/ar.py in deep-spin/ssm-mt), in tokens */
export const DEFAULT_LENGTH_EDGES: readonly number[] = [0, 16, 32, 48, 64, 80, 96, 128];

export interface LengthBin {
  /** "16-32", or "128+" for the last */
  label: string;
  from: number;
  /** exclusive; Infinity for the last bin */
  to: number;
  segments: number;
  /** undefined when no segment fell in the bin */
  bleu?: BleuScore;
}

/** `edges`: ascending, starting at 0 (the CLI checks that). */
export function bleuByLength(srcs: readonly string[], hyps: readonly string[], refs: readonly string[],
  edges: readonly number[] = DEFAULT_LENGTH_EDGES): LengthBin[] {
  const bins = edges.map((from, i) => {
    const to = i + 1 < edges.length ? edges[i + 1] : Infinity;
    return { from, to, label: to === Infinity ? `${from}+` : `${from}-${to}`, segments: 0, stats: emptyStats() };
  });
  for (let i = 0; i < srcs.length; i++) {
    const len = bleuTokens(srcs[i]).length;
    let k = bins.length - 1;
    while (k > 0 && len < bins[k].from) k--;
    const bin = bins[k];
    bin.segments++;
    bin.stats = addStats(bin.stats, segmentStats(hyps[i], refs[i]));
  }
  return bins.map(({ stats, ...b }) => (b.segments ? { ...b, bleu: bleuFromStats(stats) } : b));
}
