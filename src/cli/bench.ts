/**
 * `mamba-ts bench`: prefill and decode tokens/s of a model folder or a preset architecture
 * (random weights, no download), or with --op matmul the GFLOP/s of the CPU sgemm.
 */
import { benchMatmul } from './bench-matmul.js';
import { UserError } from '../errors.js';
import { PRESET_NAMES } from '../model/presets.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';
import { measureSpeed } from './measure.js';
import { hubFlags, isPreset, loadModelArg } from './model-arg.js';
import { startProgress } from './progress.js';
import { formatRate } from './speed.js';

const DEFAULTS = { batch: 1, prompt: 128, 'new-tokens': 32 };

const FLAGS = {
  model: { kind: 'string', value: 'DIR|ORG/NAME|PRESET', help: `model folder, Hub repo id or preset (${PRESET_NAMES.join(', ')})` },
  batch: { kind: 'int', value: 'B', min: 1, help: `sequences at once (default ${DEFAULTS.batch})` },
  prompt: { kind: 'int', value: 'N', min: 1, help: `prompt tokens per sequence for the prefill (default ${DEFAULTS.prompt})` },
  'new-tokens': { kind: 'int', value: 'N', min: 1, help: `decode steps (default ${DEFAULTS['new-tokens']})` },
  op: { kind: 'string', value: 'OP', choices: ['matmul'], help: 'benchmark one operation instead of a model' },
  m: { kind: 'int', value: 'M', min: 1, help: 'rows of x (--op matmul)' },
  n: { kind: 'int', value: 'N', min: 1, help: 'output features, rows of W (--op matmul)' },
  k: { kind: 'int', value: 'K', min: 1, help: 'input features (--op matmul)' },
  json: { kind: 'bool', help: 'print one JSON object to stdout' },
  device: deviceFlag,
  ...hubFlags,
} as const;

export async function runBench(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts bench --model DIR|PRESET [--batch B] [--prompt N] [--new-tokens N] [--json] [--device cpu|webgpu]\n' +
      '       mamba-ts bench --op matmul --m M --n N --k K [--json]',
    summary: 'Measures prefill tokens/s (forward over B × N tokens) and decode tokens/s (greedy steps, each fed the ids the last chose), or matmul GFLOP/s.',
    notes: 'Presets are the published architectures with seeded random weights: speed does not depend on the values.',
  });
  if (!flags) return 0;
  const modelOnly = (['batch', 'prompt', 'new-tokens'] as const).filter((f) => flags[f] !== undefined);
  const matmulOnly = (['m', 'n', 'k'] as const).filter((f) => flags[f] !== undefined);
  if (flags.op === 'matmul') {
    if (flags.model !== undefined || modelOnly.length > 0) {
      throw new UserError(`--${flags.model !== undefined ? 'model' : modelOnly[0]} does not apply to --op matmul`);
    }
    const missing = (['m', 'n', 'k'] as const).find((f) => flags[f] === undefined);
    if (missing) throw new UserError(`--op matmul needs --${missing}`);
    if (flags.device !== 'cpu') throw new UserError('--op matmul times the CPU sgemm; --device must be cpu');
    return benchOp(flags.m!, flags.n!, flags.k!, flags.json);
  }
  if (matmulOnly.length > 0) throw new UserError(`--${matmulOnly[0]} applies only to --op matmul`);
  if (flags.model === undefined) throw new UserError('--model is required (or --op matmul; see --help)');
  const batch = flags.batch ?? DEFAULTS.batch;
  const prompt = flags.prompt ?? DEFAULTS.prompt;
  const newTokens = flags['new-tokens'] ?? DEFAULTS['new-tokens'];

  const dev = await openBackend(flags.device);
  try {
    const model = await loadModelArg(flags.model, dev.backend, true, flags);
    const progress = startProgress(`bench ${flags.model}`, 1 + prompt + newTokens, 'warm-up');
    let r;
    try {
      r = await measureSpeed(model, batch, prompt, newTokens, progress);
    } finally {
      progress.done();
    }
    const stateBytes = model.stateBytesPerSequence(prompt + newTokens);
    if (flags.json) {
      process.stdout.write(JSON.stringify({
        model: flags.model, device: dev.description, params: model.paramCount(), batch, prompt, new_tokens: newTokens,
        prefill_tokens_per_s: r.prefillTokensPerS, decode_tokens_per_s: r.decodeTokensPerS,
        prefill_seconds: r.prefillSeconds, decode_seconds: r.decodeSeconds, state_bytes_per_sequence: stateBytes,
      }) + '\n');
    } else {
      const source = isPreset(flags.model) ? `${flags.model} (preset, random weights)` : flags.model;
      process.stdout.write([
        `model:   ${source} on ${dev.description}, ${model.paramCount().toLocaleString('en-US')} parameters`,
        `state:   ${stateBytes.toLocaleString('en-US')} bytes per sequence`,
        `prefill: ${batch} × ${prompt} tokens in ${r.prefillSeconds.toFixed(3)} s = ${formatRate(r.prefillTokensPerS)} tokens/s`,
        `decode:  ${batch} × ${newTokens} steps in ${r.decodeSeconds.toFixed(3)} s = ${formatRate(r.decodeTokensPerS)} tokens/s`,
      ].join('\n') + '\n');
    }
  } finally {
    dev.close();
  }
  return 0;
}

function benchOp(m: number, n: number, k: number, json: boolean): number {
  const { gflops, ms } = benchMatmul(m, n, k);
  process.stdout.write(json
    ? JSON.stringify({ op: 'matmul', m, n, k, gflops, ms, device: 'cpu' }) + '\n'
    : `matmul x [${m}, ${k}] · Wᵀ [${k}, ${n}]: ${gflops.toFixed(2)} GFLOP/s (best ${ms.toFixed(3)} ms)\n`);
  return 0;
}
