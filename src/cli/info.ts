/**
 * `mamba-ts info`: what a model is (layers by kind), how many parameters, how much state. A
 * preset is described from its config alone (sizes.ts): building its random weights would take
 * tens of seconds and a gigabyte for the 130M ones.
 */
import { DEFAULT_MAX_LEN } from '../model/lm.js';
import { paddedVocab, type LayerConfig, type MlpConfig, type ModelConfig } from '../config.js';
import { preset, PRESET_NAMES } from '../model/presets.js';
import { paramCountOf, stateBytesOf } from '../model/sizes.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';
import { hubFlags, isPreset, loadModelArg, type HubFlags } from './model-arg.js';

const FLAGS = {
  model: { kind: 'string', value: 'DIR|ORG/NAME|PRESET', required: true, help: `model folder, Hub repo id or preset (${PRESET_NAMES.join(', ')})` },
  'max-len': { kind: 'int', value: 'N', default: DEFAULT_MAX_LEN, min: 1, help: 'KV cache length for the state size of attention layers' },
  json: { kind: 'bool', help: 'print one JSON object instead of lines' },
  device: deviceFlag,
  ...hubFlags,
} as const;

interface ModelFacts {
  source: string;
  config: ModelConfig;
  /** parameters as stored (padded embedding rows included, a tied head once) */
  parameters: number;
}

export async function runInfo(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts info --model DIR|ORG/NAME|PRESET [--max-len N] [--json]',
    summary: 'Prints the architecture (layers by kind), the parameter count and the state bytes per sequence.',
    notes: 'A preset is described from its config (no weights are made); a folder is loaded and its stored tensors counted.',
  });
  if (!flags) return 0;
  const facts = isPreset(flags.model) ? presetFacts(flags.model) : await folderFacts(flags.model, flags.device, flags);
  process.stdout.write(flags.json ? `${JSON.stringify(modelJson(facts, flags['max-len']))}\n` : describeModel(facts, flags['max-len']));
  return 0;
}

function presetFacts(name: string): ModelFacts {
  const config = preset(name);
  return { source: `${name} (preset)`, config, parameters: paramCountOf(config) };
}

async function folderFacts(dir: string, device: Parameters<typeof openBackend>[0], hub: HubFlags): Promise<ModelFacts> {
  const dev = await openBackend(device);
  try {
    const model = await loadModelArg(dir, dev.backend, false, hub);
    return { source: dir, config: model.config, parameters: model.paramCount() };
  } finally {
    dev.close();
  }
}

function modelJson(f: ModelFacts, maxLen: number): Record<string, unknown> {
  const c = f.config;
  const kinds: Record<string, number> = {};
  for (const l of c.layers) kinds[l.mixer.kind] = (kinds[l.mixer.kind] ?? 0) + 1;
  return {
    model: f.source, d_model: c.dModel, vocab_size: c.vocabSize, vocab_padded: paddedVocab(c), tie_embeddings: c.tieEmbeddings,
    layers: c.layers.length, layer_kinds: kinds, mlp_layers: c.layers.filter((l) => l.mlp).length, summary: layerSummary(c.layers),
    parameters: f.parameters, max_len: maxLen, state_bytes_per_sequence: stateBytesOf(c, maxLen),
  };
}

function describeModel(f: ModelFacts, maxLen: number): string {
  const c = f.config;
  const V = paddedVocab(c);
  const hasAttention = c.layers.some((l) => l.mixer.kind === 'attention');
  const lines = [
    `model:        ${f.source}`,
    `d_model:      ${c.dModel}`,
    `vocabulary:   ${c.vocabSize}${V !== c.vocabSize ? ` (padded to ${V})` : ''}`,
    `embeddings:   ${c.tieEmbeddings ? 'tied to the lm_head' : 'separate lm_head'}`,
    `layers:       ${c.layers.length}: ${layerSummary(c.layers)}`,
    `parameters:   ${f.parameters.toLocaleString('en-US')}`,
    `state bytes per sequence: ${stateBytesOf(c, maxLen).toLocaleString('en-US')}` +
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
