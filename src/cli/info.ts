/** `mamba-ts info`: what a model is (layers by kind), how many parameters, how much state. */
import { DEFAULT_MAX_LEN, type MambaLM } from '../model/lm.js';
import type { LayerConfig, MlpConfig } from '../model/config.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';
import { hubFlags, isPreset, loadModelArg } from './model-arg.js';
import { PRESET_NAMES } from '../model/presets.js';

const FLAGS = {
  model: { kind: 'string', value: 'DIR|ORG/NAME|PRESET', required: true, help: `model folder, Hub repo id or preset (${PRESET_NAMES.join(', ')})` },
  'max-len': { kind: 'int', value: 'N', default: DEFAULT_MAX_LEN, min: 1, help: 'KV cache length for the state size of attention layers' },
  device: deviceFlag,
  ...hubFlags,
} as const;

export async function runInfo(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts info --model DIR|ORG/NAME|PRESET [--max-len N]',
    summary: 'Prints the architecture (layers by kind), the parameter count and the state bytes per sequence.',
  });
  if (!flags) return 0;
  const dev = await openBackend(flags.device);
  try {
    const model = await loadModelArg(flags.model, dev.backend, true, flags);
    const source = isPreset(flags.model) ? `${flags.model} (preset, random weights)` : flags.model;
    process.stdout.write(describeModel(model, source, flags['max-len']));
  } finally {
    dev.close();
  }
  return 0;
}

export function describeModel(model: MambaLM, source: string, maxLen: number): string {
  const c = model.config;
  const hasAttention = c.layers.some((l) => l.mixer.kind === 'attention');
  const lines = [
    `model:        ${source}`,
    `d_model:      ${c.dModel}`,
    `vocabulary:   ${c.vocabSize}${model.vocabPadded !== c.vocabSize ? ` (padded to ${model.vocabPadded})` : ''}`,
    `embeddings:   ${c.tieEmbeddings ? 'tied to the lm_head' : 'separate lm_head'}`,
    `layers:       ${c.layers.length}: ${layerSummary(c.layers)}`,
    `parameters:   ${model.paramCount().toLocaleString('en-US')}`,
    `state bytes per sequence: ${model.stateBytesPerSequence(maxLen).toLocaleString('en-US')}` +
      (hasAttention ? ` (KV caches of ${maxLen} tokens)` : ' (constant in the sequence length)'),
  ];
  return lines.join('\n') + '\n';
}

/** e.g. "23 mamba2 (N=128, 24 heads of 64), 1 attention (4 heads, 2 KV heads of 64); gated MLP 128 in 24" */
function layerSummary(layers: readonly LayerConfig[]): string {
  const groups = new Map<string, number>();
  for (const { mixer: m } of layers) {
    const key = m.kind === 'mamba1' ? `mamba1 (N=${m.dState}, d_inner ${m.dInner}, dt_rank ${m.dtRank}, conv ${m.dConv})`
      : m.kind === 'mamba2' ? `mamba2 (N=${m.dState}, ${m.nHeads} heads of ${m.headDim}, ${m.nGroups} group${m.nGroups > 1 ? 's' : ''}, chunk ${m.chunkSize})`
      : m.kind === 'attention' ? `attention (${m.nHeads} heads, ${m.nKvHeads} KV heads of ${m.headDim}${m.rotaryEmbDim ? `, rotary ${m.rotaryEmbDim}` : ''})`
      : mlpSummary(m);
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  const mixers = [...groups].map(([k, n]) => `${n} × ${k}`).join(', ');
  const mlps = layers.filter((l) => l.mlp);
  return mlps.length ? `${mixers}; ${mlpSummary(mlps[0].mlp!)} in ${mlps.length}` : mixers;
}

/** e.g. "gated MLP (128)" (SwiGLU), "relu² MLP (96, bias)" */
function mlpSummary(m: MlpConfig): string {
  const act = m.activation === 'relu2' ? 'relu²' : m.activation === 'gelu' ? 'GELU' : 'SiLU';
  const kind = m.gated ? (m.activation === 'silu' ? 'gated' : `gated ${act}`) : act;
  return `${kind} MLP (${m.dIntermediate}${m.bias ? ', bias' : ''})`;
}
