/**
 * `mamba-ts convert --model DIR --to FORMAT --out PATH`: rewrites a model that loads (a folder, a
 * Hub repo id, a .gguf file) in another format. Each `--to` value is one entry of TARGETS, with
 * the flags it honours; gguf is the first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { readCheckpoint, type Checkpoint } from '../io/checkpoint.js';
import { GGUF_FILE_TYPES, writeGgufModel, type GgufFileType } from '../io/gguf/model.js';
import { specialIds } from '../io/gguf/vocab.js';
import { parseFlags, type Parsed } from './flags.js';
import { hubFlags, resolveModelPath } from './model-arg.js';

const FLAGS = {
  model: { kind: 'string', value: 'DIR|ORG/NAME|FILE.gguf', required: true, help: 'the model to convert: a checkpoint folder, a Hub repo id or a GGUF file' },
  to: { kind: 'string', value: 'FORMAT', required: true, choices: ['gguf'], help: 'the format to write: gguf (llama.cpp)' },
  out: { kind: 'string', value: 'PATH', required: true, help: 'the file to write (FILE.gguf for --to gguf)' },
  type: { kind: 'string', value: 'TYPE', choices: GGUF_FILE_TYPES, help: 'for --to gguf: the type of the large matrices, f32 (default), f16, q8_0 or q4_0' },
  name: { kind: 'string', value: 'TEXT', help: 'for --to gguf: general.name (default: the model\'s folder or file name)' },
  ...hubFlags,
} as const;

type Flags = Parsed<typeof FLAGS>;

/** One output format: writes `source` (read from `sourcePath`) to flags.out, says what it wrote. */
interface Target {
  write(source: Checkpoint, sourcePath: string, flags: Flags): string;
}

const TARGETS: Record<string, Target> = {
  gguf: {
    write(source, sourcePath, flags) {
      if (!flags.out.endsWith('.gguf')) throw new UserError(`--out ${flags.out}: a GGUF file's name must end in .gguf`);
      const type = (flags.type ?? 'f32') as GgufFileType;
      const isFolder = fs.statSync(sourcePath).isDirectory();
      const tokenizer = path.join(sourcePath, 'tokenizer.json');
      writeGgufModel(flags.out, source.config, source.weights, {
        type,
        name: flags.name ?? path.basename(path.resolve(sourcePath)).replace(/\.gguf$/i, ''),
        ...(isFolder && fs.existsSync(tokenizer) && { tokenizerFile: tokenizer }),
        special: isFolder ? specialIds(path.join(sourcePath, 'config.json')) : {},
      });
      return `${type}, ${isFolder && fs.existsSync(tokenizer) ? 'vocabulary of tokenizer.json' : 'byte-level vocabulary'}`;
    },
  },
};

export async function runConvert(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts convert --model DIR|ORG/NAME|FILE.gguf --to gguf --out FILE.gguf [--type f32|f16|q8_0|q4_0] [--name TEXT]',
    summary: 'Writes a model in another format. --to gguf writes a llama.cpp file (architecture mamba or mamba2).',
    notes: [
      'GGUF: 1-D tensors, norms, the conv, A and D stay f32 as llama.cpp keeps them; with q8_0/q4_0, matrices whose',
      'rows are not a multiple of 32 are written f16, as llama.cpp\'s converter does. The vocabulary comes from the',
      'folder\'s tokenizer.json (byte-level BPE), else a byte-level one. Models llama.cpp cannot run the same way',
      '(hybrids, MLP layers, projection biases, Mamba-1 with expand ≠ 2, ...) are refused, with the reason.',
    ].join('\n'),
  });
  if (!flags) return 0;
  const target = TARGETS[flags.to];
  const sourcePath = await resolveModelPath(flags.model, flags);
  const what = target.write(readCheckpoint(sourcePath), sourcePath, flags);
  const bytes = fs.statSync(flags.out).size;
  process.stderr.write(`mamba-ts: wrote ${flags.out} (${what}, ${(bytes / 2 ** 20).toFixed(1)} MiB)\n`);
  return 0;
}
