/** `mamba-ts pattern`: the hybrid layer pattern Megatron-LM allocates from layer ratios. */
import { UserError } from '../errors.js';
import { patternFromRatios } from '../model/pattern.js';
import { parseFlags } from './flags.js';

const FLAGS = {
  'n-layers': { kind: 'int', value: 'L', required: true, min: 1, max: 100000, help: 'number of layers' },
  'attention-ratio': { kind: 'number', value: 'A', default: 0, help: 'fraction of attention layers, in [0, 1) (the Mamba-2-Hybrid: 0.08)' },
  'mlp-ratio': { kind: 'number', value: 'R', default: 0, help: 'fraction of MLP layers, in [0, 1) (the Mamba-2-Hybrid: 0.5)' },
} as const;

export async function runPattern(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts pattern --n-layers L [--attention-ratio A] [--mlp-ratio R]',
    summary: "Prints the layer pattern (M Mamba-2, * attention, - MLP) that Megatron-LM's hybrid allocation gives, "
      + 'for --layers of mamba-ts train.',
    notes: 'e.g. --n-layers 56 --attention-ratio 0.08 --mlp-ratio 0.5 is the 8B Mamba-2-Hybrid of Waleffe et al. 2024.',
  });
  if (!flags) return 0;
  const { 'n-layers': L, 'attention-ratio': A, 'mlp-ratio': R } = flags;
  for (const [flag, r] of [['--attention-ratio', A], ['--mlp-ratio', R]] as const) {
    if (!(r >= 0 && r < 1)) throw new UserError(`${flag} ${r}: must be in [0, 1)`);
  }
  if (A + R > 1) throw new UserError(`--attention-ratio ${A} + --mlp-ratio ${R} is ${A + R}: the two must sum to at most 1`);
  process.stdout.write(`${patternFromRatios(L, A, R)}\n`);
  return 0;
}
