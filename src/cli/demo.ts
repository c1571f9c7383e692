/**
 * `mamba-ts demo`: what the library does today, with nothing to download. Builds the published
 * mamba-130m and mamba2-130m architectures with random weights on the CPU, checks that the
 * recurrent path (`step`) reproduces the parallel one (`forward`), measures prefill and decode
 * speed, and prints a markdown table.
 */
import { CpuBackend } from '../backend/cpu/index.js';
import { PRESET_NAMES } from '../model/presets.js';
import { parseFlags } from './flags.js';
import { measureSpeed, stepForwardGap, type SpeedResult } from './measure.js';
import { presetModel } from './model-arg.js';
import { startProgress } from './progress.js';
import { formatRate } from './speed.js';

const CHECK_TOKENS = 16;
const PROMPT = 128;
const NEW_TOKENS = 32;

const FLAGS = {} as const;

interface Row {
  name: string;
  params: number;
  stateBytes: number;
  gap: number;
  buildSeconds: number;
  speed: SpeedResult;
}

export async function runDemo(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts demo',
    summary: `Builds ${PRESET_NAMES.join(' and ')} (random weights) on the CPU, checks step against forward over ` +
      `${CHECK_TOKENS} tokens, measures prefill (1 × ${PROMPT}) and decode (${NEW_TOKENS} steps) speed, prints a table.`,
  });
  if (!flags) return 0;
  const backend = new CpuBackend();
  const perModel = 1 + CHECK_TOKENS + 1 + PROMPT + NEW_TOKENS;
  const progress = startProgress('demo', PRESET_NAMES.length * perModel, `build ${PRESET_NAMES[0]}`);
  const rows: Row[] = [];
  try {
    for (const name of PRESET_NAMES) {
      const t0 = performance.now();
      const model = presetModel(name, backend);
      const buildSeconds = (performance.now() - t0) / 1000;
      progress.tick(1, `${name}: step vs forward`);
      const gap = await stepForwardGap(model, CHECK_TOKENS, 7);
      progress.tick(CHECK_TOKENS, `${name}: speed`);
      const speed = await measureSpeed(model, 1, PROMPT, NEW_TOKENS, { tick: (n, phase) => progress.tick(n, `${name}: ${phase}`), done: () => {} });
      rows.push({ name, params: model.paramCount(), stateBytes: model.stateBytesPerSequence(), gap, buildSeconds, speed });
    }
  } finally {
    progress.done();
  }
  process.stdout.write(table(rows));
  return 0;
}

function table(rows: readonly Row[]): string {
  const lines = [
    `| model (random weights, cpu) | parameters | state / sequence | max \\|step − forward\\| (${CHECK_TOKENS} tokens) | prefill tokens/s (1 × ${PROMPT}) | decode tokens/s (${NEW_TOKENS} steps) | build s |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.name} | ${(r.params / 1e6).toFixed(1)} M | ${(r.stateBytes / 1024).toFixed(0)} KiB | ` +
      `${r.gap.toExponential(1)} | ${formatRate(r.speed.prefillTokensPerS)} | ${formatRate(r.speed.decodeTokensPerS)} | ${r.buildSeconds.toFixed(1)} |`),
  ];
  return lines.join('\n') + '\n';
}
