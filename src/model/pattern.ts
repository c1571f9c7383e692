/**
 * Megatron-LM's hybrid layer patterns: one character per layer, `M` Mamba-2, `*` attention, `-`
 * MLP (e.g. "M-M*-M-"), as `--hybrid-override-pattern` and NemotronH's `hybrid_override_pattern`
 * write them, and the pattern Megatron-LM allocates from target ratios of attention and MLP
 * layers (megatron/core/models/hybrid/hybrid_layer_allocation.py `pattern_from_ratios`, formerly
 * `allocate_layers` in megatron/core/ssm/mamba_hybrid_layer_allocation.py).
 */
import { UserError } from '../errors.js';

export type PatternLayer = 'mamba2' | 'attention' | 'mlp';

const SYMBOLS: Record<string, PatternLayer> = { M: 'mamba2', '*': 'attention', '-': 'mlp' };

/** Megatron symbols of layers mamba-ts does not have. */
const UNSUPPORTED: Record<string, string> = {
  E: 'mixture-of-experts', G: 'gated delta net', D: 'DeepSeek sparse attention', '+': 'multi-latent attention',
};

/** A --layers spec is a pattern when it has neither lowercase layer names nor commas. */
export function isPattern(spec: string): boolean {
  return spec.length > 0 && !/[a-z,]/.test(spec);
}

/**
 * Layer kinds of a pattern. `|` (Megatron's pipeline-stage boundary) does not change the model
 * and is skipped; `/` starts multi-token-prediction layers, which are not supported.
 */
export function parsePattern(pattern: string, what: string): PatternLayer[] {
  const out: PatternLayer[] = [];
  for (const [i, c] of [...pattern].entries()) {
    if (c === '|') continue;
    const kind = SYMBOLS[c];
    if (kind) { out.push(kind); continue; }
    const why = c === '/' ? 'multi-token prediction layers are not supported'
      : UNSUPPORTED[c] ? `${UNSUPPORTED[c]} layers are not supported` : 'unknown layer symbol (known: M Mamba-2, * attention, - MLP)';
    throw new UserError(`${what}: "${c}" at position ${i} of "${pattern}": ${why}`);
  }
  if (out.length === 0) throw new UserError(`${what}: the pattern "${pattern}" has no layers`);
  return out;
}

/**
 * The pattern Megatron-LM builds for `nLayers` layers with the given fractions of attention and
 * MLP layers: attention layers evenly spaced with Mamba-2 layers at both ends, then MLP layers
 * spread evenly over the remaining Mamba-2 positions. Counts use Python's round (half to even).
 * (56, 0.08, 0.5) gives the Mamba-2-Hybrid 8B of Waleffe et al. 2024: 24 M, 4 *, 28 -.
 */
export function patternFromRatios(nLayers: number, attentionRatio: number, mlpRatio: number): string {
  const why = ratiosProblem(nLayers, attentionRatio, mlpRatio);
  if (why) throw new RangeError(`patternFromRatios(${nLayers}, ${attentionRatio}, ${mlpRatio}): ${why}`);

  const layers: string[] = new Array<string>(nLayers).fill('M');
  const attentionCount = roundHalfEven(nLayers * attentionRatio);
  let mambaCount = nLayers - attentionCount;
  // mambaCount Mamba-2 layers in attentionCount + 1 sections; an attention layer closes each but the last
  const sectionLen = mambaCount / (attentionCount + 1);
  let x = sectionLen;
  for (let i = 0; i < nLayers; i++) {
    if (x < 0.5) { layers[i] = '*'; x += sectionLen; } else x -= 1;
  }
  const mlpCount = roundHalfEven(nLayers * mlpRatio);
  if (mlpCount > 0) {
    mambaCount -= mlpCount;
    const ratio = mambaCount / mlpCount;
    x = ratio;
    for (let i = 0; i < nLayers; i++) {
      if (layers[i] !== 'M') continue;
      if (x < 0.5) { layers[i] = '-'; x += ratio; } else x -= 1;
    }
  }
  return layers.join('');
}

/** What is wrong with these arguments of patternFromRatios, or undefined. */
export function ratiosProblem(nLayers: number, attentionRatio: number, mlpRatio: number): string | undefined {
  if (!Number.isSafeInteger(nLayers) || nLayers < 1) return 'the number of layers must be a positive integer';
  if (!(attentionRatio >= 0 && attentionRatio < 1)) return 'the attention ratio must be in [0, 1)';
  if (!(mlpRatio >= 0 && mlpRatio < 1)) return 'the MLP ratio must be in [0, 1)';
  if (attentionRatio + mlpRatio > 1) return 'the attention and MLP ratios must sum to at most 1';
  return undefined;
}

/** Python 3's round() of a float: to the nearest integer, ties to the even one. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}
