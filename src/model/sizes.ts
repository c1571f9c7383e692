/**
 * A model's size from its config alone: what `mamba-ts info` reports for a preset without
 * building (and filling) its weights, and what MambaLM reports for a loaded model.
 */
import type { MixerConfig, ModelConfig } from '../config.js';
import { expectedShapes } from './params.js';

/** Parameters as stored: padded embedding rows included, a tied lm_head once. */
export function paramCountOf(config: ModelConfig): number {
  let n = 0;
  for (const shape of expectedShapes(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** f32 bytes of one sequence's state: conv windows + SSM states + KV caches of `maxLen` (+ length). */
export function stateBytesOf(config: ModelConfig, maxLen: number): number {
  return config.layers.reduce((a, l) => a + mixerStateBytes(l.mixer, maxLen), 0);
}

function mixerStateBytes(m: MixerConfig, maxLen: number): number {
  if (m.kind === 'mlp') return 0;
  if (m.kind === 'mamba1') return 4 * m.dInner * (m.dConv - 1 + m.dState);                     // conv [D, K-1] + ssm [D, N]
  if (m.kind === 'mamba2') {
    const convDim = m.dSsm + 2 * m.nGroups * m.dState;
    return 4 * (convDim * (m.dConv - 1) + m.nHeads * m.headDim * m.dState);                  // conv [convDim, K-1] + ssm [H, P, N]
  }
  const qkv = m.headDim * (m.nHeads + 2 * m.nKvHeads);
  return 4 * (2 * maxLen * m.nKvHeads * m.headDim + (m.dConv > 0 ? qkv * (m.dConv - 1) : 0) + 1); // k, v [S, Hkv, E] + conv + length
}
