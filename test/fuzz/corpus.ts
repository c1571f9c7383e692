/**
 * Inputs that once failed (issue 20's findings and the fuzzer's), built deterministically from
 * the fixtures so that the repository holds no large binaries. Each is a `generate` command
 * line over a model folder; each must end in a UserError whose message matches `expect` (the
 * file and field at fault), quickly and in little memory: fuzz.test.ts runs them in-process
 * under the fuzzer's watch and through the CLI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES } from '../fixtures.js';
import { classify, smallTokenizerJson, type Case } from './cases.js';
import { P, stateDictPickle, tensorPickle, zipBytes } from './zip-writer.js';

export interface CorpusEntry {
  name: string;
  expect: RegExp;
  /** writes the inputs under `dir` and returns generate's arguments */
  build(dir: string): string[];
}

const MAMBA1 = path.join(FIXTURES, 'hf/mamba1-tiny');
const MS_MAMBA1 = path.join(FIXTURES, 'mamba_ssm/ms-mamba1');
const ARGS = ['--prompt-ids', '1,2', '--max-new-tokens', '1', '--temperature', '0'];

function copyOf(fixture: string, dir: string, files: Record<string, Uint8Array | string> = {}): string[] {
  for (const f of fs.readdirSync(fixture)) {
    if (f === 'config.json' || f === 'model.safetensors' || f === 'pytorch_model.bin') fs.copyFileSync(path.join(fixture, f), path.join(dir, f));
  }
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), data);
  return ['--model', dir, ...ARGS];
}

/** The fixture's safetensors with its header JSON edited (lengths recomputed) and `tail` bytes appended. */
function editedSafetensors(edit: (header: Header) => void, tail = 0): Buffer {
  const b = fs.readFileSync(path.join(MAMBA1, 'model.safetensors'));
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString());
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, b.subarray(8 + n), Buffer.alloc(tail)]);
}

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
const lastTensor = (h: Header) =>
  Object.entries(h).filter(([k]) => k !== '__metadata__').sort((a, b) => b[1].data_offsets[1] - a[1].data_offsets[1])[0][1];

/** A one-layer mamba_ssm config whose embedding is [8, 4]; the .bin holds `tensors`. */
const TINY_MS = JSON.stringify({ d_model: 4, n_layer: 1, vocab_size: 8, pad_vocab_size_multiple: 1, ssm_cfg: { d_state: 2 } });
function tinyBin(dir: string, pickle: Buffer, storages: { name: string; data: Uint8Array; deflate?: boolean; claimedSize?: number }[] = []): string[] {
  fs.writeFileSync(path.join(dir, 'config.json'), TINY_MS);
  fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), zipBytes([{ name: 'archive/data.pkl', data: pickle }, ...storages]));
  return ['--model', dir, ...ARGS];
}
const EMB = 'backbone.embedding.weight';
const int = (n: number) => P.int(n);

function tokenizerWith(edit: (t: Record<string, any>) => void) {
  const t = JSON.parse(smallTokenizerJson());
  edit(t);
  return JSON.stringify(t);
}

export const CORPUS: CorpusEntry[] = [
  {
    name: 'safetensors header length 4 bytes short',
    expect: /model\.safetensors: .*(cover|header)/,
    build: (dir) => {
      const b = Buffer.from(fs.readFileSync(path.join(MAMBA1, 'model.safetensors')));
      b.writeBigUInt64LE(b.readBigUInt64LE(0) - 4n, 0);
      return copyOf(MAMBA1, dir, { 'model.safetensors': b });
    },
  },
  {
    name: 'safetensors trailing bytes',
    expect: /model\.safetensors: the tensors cover \d+ data bytes but the file has \d+/,
    build: (dir) => copyOf(MAMBA1, dir, { 'model.safetensors': Buffer.concat([fs.readFileSync(path.join(MAMBA1, 'model.safetensors')), Buffer.alloc(8)]) }),
  },
  {
    name: 'safetensors hole before the last tensor',
    expect: /model\.safetensors: tensor ".*" starts at data byte \d+, .*hole/,
    build: (dir) => copyOf(MAMBA1, dir, { 'model.safetensors': editedSafetensors((h) => { lastTensor(h).data_offsets = lastTensor(h).data_offsets.map((o) => o + 8); }, 8) }),
  },
  {
    name: 'safetensors float tensor labelled I32',
    expect: /model\.safetensors: tensor ".*" holds integers/,
    build: (dir) => copyOf(MAMBA1, dir, { 'model.safetensors': editedSafetensors((h) => { lastTensor(h).dtype = 'I32'; }) }),
  },
  {
    name: 'safetensors float tensor labelled BOOL',
    expect: /model\.safetensors: tensor ".*": has \d+ bytes but shape .* of BOOL needs/,
    build: (dir) => copyOf(MAMBA1, dir, { 'model.safetensors': editedSafetensors((h) => { lastTensor(h).dtype = 'BOOL'; }) }),
  },
  {
    name: 'safetensors header nested 10,000 levels',
    expect: /model\.safetensors: safetensors header: JSON nests deeper than 64/,
    build: (dir) => {
      const json = Buffer.from(`{"__metadata__": ${'['.repeat(10000)}${']'.repeat(10000)}}`);
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      return copyOf(MAMBA1, dir, { 'model.safetensors': Buffer.concat([len, json]) });
    },
  },
  {
    name: 'bin storage offset -1',
    expect: /pytorch_model\.bin: bad arguments to torch\._utils\._rebuild_tensor_v2/,
    build: (dir) => tinyBin(dir, stateDictPickle([[EMB, tensorPickle('FloatStorage', P.str('0'), int(32), -1, [int(8), int(4)], [int(4), int(1)])]]),
      [{ name: 'archive/data/0', data: new Uint8Array(128) }]),
  },
  {
    name: 'bin 2^30 elements with stride 0 against a config of 32',
    expect: /pytorch_model\.bin: tensor "backbone\.embedding\.weight" has shape \[1073741824\], config\.json implies \[8,4\]/,
    build: (dir) => tinyBin(dir, stateDictPickle([[EMB, tensorPickle('FloatStorage', P.str('0'), int(1), 0, [P.int(2 ** 30)], [int(0)])]]),
      [{ name: 'archive/data/0', data: new Uint8Array(4) }]),
  },
  {
    name: 'bin 2^30 elements with stride 0 read without a config',
    expect: /has 1073741824 elements, more than its storage of 1/,
    build: (dir) => {
      const argv = tinyBin(dir, stateDictPickle([[EMB, tensorPickle('FloatStorage', P.str('0'), int(1), 0, [P.int(2 ** 15), P.int(2 ** 15)], [int(0), int(0)])]]),
        [{ name: 'archive/data/0', data: new Uint8Array(4) }]);
      return ['--read-bin', path.join(dir, 'pytorch_model.bin'), ...argv.slice(2)];
    },
  },
  {
    name: 'bin deflate bomb: 64 MiB of zeros in an entry that claims 128 bytes',
    expect: /pytorch_model\.bin: corrupt zip archive \(entry "archive\/data\/0" does not inflate to the 128 bytes/,
    build: (dir) => tinyBin(dir, stateDictPickle([[EMB, tensorPickle('FloatStorage', P.str('0'), int(32), 0, [int(8), int(4)], [int(4), int(1)])]]),
      [{ name: 'archive/data/0', data: new Uint8Array(64 << 20), deflate: true, claimedSize: 128 }]),
  },
  {
    name: 'bin LONG4 integer of 400 KB',
    expect: /pytorch_model\.bin: archive\/data\.pkl: bad pickle \(LONG4 integer of 409600 bytes/,
    build: (dir) => tinyBin(dir, Buffer.concat([Buffer.from([0x80, 2]), P.long4(Buffer.alloc(400 * 1024, 0x11)), Buffer.from('.')])),
  },
  {
    name: 'bin BigInt storage id',
    expect: /pytorch_model\.bin: bad storage reference \["storage", torch\.FloatStorage\b|pytorch_model\.bin: bad storage reference/,
    build: (dir) => tinyBin(dir, stateDictPickle([[EMB, tensorPickle('FloatStorage', P.long4(Buffer.alloc(12, 0x22)), int(32), 0, [int(8), int(4)], [int(4), int(1)])]])),
  },
  {
    name: 'bin cyclic storage id',
    expect: /pytorch_model\.bin: bad storage reference/,
    // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND: a list that holds itself
    build: (dir) => tinyBin(dir, stateDictPickle([[EMB, tensorPickle('FloatStorage', Buffer.from([0x5d, 0x71, 0, 0x68, 0, 0x61]), int(32), 0, [int(8), int(4)], [int(4), int(1)])]])),
  },
  {
    name: 'bin storage with trailing bytes',
    expect: /pytorch_model\.bin: tensor "backbone\.embedding\.weight": storage "archive\/data\/0" has 132 bytes, but 32 elements of F32 are 128/,
    build: (dir) => tinyBin(dir, stateDictPickle([[EMB, tensorPickle('FloatStorage', P.str('0'), int(32), 0, [int(8), int(4)], [int(4), int(1)])]]),
      [{ name: 'archive/data/0', data: new Uint8Array(132) }]),
  },
  {
    name: 'config num_hidden_layers 1e9',
    expect: /config\.json: field "num_hidden_layers" is beyond the limit of 4096/,
    build: (dir) => copyOf(MAMBA1, dir, { 'config.json': JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(MAMBA1, 'config.json'), 'utf8')), num_hidden_layers: 1e9 }) }),
  },
  {
    name: 'config n_layer 1e9',
    expect: /config\.json: field "n_layer" is beyond the limit of 4096/,
    build: (dir) => copyOf(MS_MAMBA1, dir, { 'config.json': JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(MS_MAMBA1, 'config.json'), 'utf8')), n_layer: 1e9 }) }),
  },
  {
    name: 'config with 2^40 parameters',
    expect: /config\.json: the model would have about .* parameters, beyond the limit of 2\^34/,
    build: (dir) => copyOf(MAMBA1, dir, { 'config.json': JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(MAMBA1, 'config.json'), 'utf8')), hidden_size: 2 ** 20, intermediate_size: 2 ** 21, vocab_size: 2 ** 20 }) }),
  },
  {
    name: 'config hidden_act gelu',
    expect: /config\.json: field "hidden_act" must be "silu" or "swish"/,
    build: (dir) => copyOf(MAMBA1, dir, { 'config.json': JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(MAMBA1, 'config.json'), 'utf8')), hidden_act: 'gelu' }) }),
  },
  {
    name: 'config time_step_limit floor 1e308 (fuzz seed 2026, config case 3122: NaN logits)',
    expect: /config\.json: field "time_step_limit" must be \[low, high\] with 0 <= low <= high/,
    build: (dir) => {
      const fixture = path.join(FIXTURES, 'hf/mamba2-tiny');
      const text = fs.readFileSync(path.join(fixture, 'config.json'), 'utf8').replace(/"time_step_limit":\s*\[[^\]]*\]/, '"time_step_limit": [1e308, Infinity]');
      return copyOf(fixture, dir, { 'config.json': text });
    },
  },
  {
    name: 'config nested 10,000 levels',
    expect: /config\.json: JSON nests deeper than 64 levels/,
    build: (dir) => copyOf(MAMBA1, dir, { 'config.json': `{"model_type": "mamba", "hidden_size": ${'['.repeat(10000)}${']'.repeat(10000)}}` }),
  },
  {
    name: 'config field holding a deep value in its error message',
    expect: /config\.json: field "hidden_size" must be a number \(got \[\[\[\[…\]\]\]\]\)/,
    build: (dir) => copyOf(MAMBA1, dir, { 'config.json': `{"model_type": "mamba", "hidden_size": ${'['.repeat(60)}${']'.repeat(60)}}` }),
  },
  {
    name: 'tokenizer id 1e9',
    expect: /tokenizer\.json: field "model\.vocab\[".*"\]" must be an integer id below 16777216/,
    build: (dir) => copyOf(MAMBA1, dir, { 'tokenizer.json': tokenizerWith((t) => { t.model.vocab['!'] = 1e9; }) }).map((a) => (a === '--prompt-ids' ? '--prompt' : a === '1,2' ? 'hi' : a)),
  },
  {
    name: 'tokenizer pattern with nested quantifiers',
    expect: /tokenizer\.json: field "pre_tokenizer\.pretokenizers\.0\.pattern\.Regex" is refused: .*nested quantifiers/,
    build: (dir) => copyOf(MAMBA1, dir, { 'tokenizer.json': tokenizerWith((t) => { t.pre_tokenizer.pretokenizers[0].pattern.Regex = '(\\s*\\w+\\s*)+$'; }) }).map((a) => (a === '--prompt-ids' ? '--prompt' : a === '1,2' ? 'aaaaaaaaaaaaaaaaaaaaaaaaaaa!' : a)),
  },
  {
    name: 'tokenizer merge outside the vocabulary',
    expect: /tokenizer\.json: field "model\.merges\[0\]" uses "zzq", which is not in model\.vocab/,
    build: (dir) => copyOf(MAMBA1, dir, { 'tokenizer.json': tokenizerWith((t) => { t.model.merges[0] = 'zzq q'; }) }).map((a) => (a === '--prompt-ids' ? '--prompt' : a === '1,2' ? 'hi' : a)),
  },
  {
    name: 'tokenizer added token without an id',
    expect: /tokenizer\.json: field "added_tokens\[0\]" must have an integer "id"/,
    build: (dir) => copyOf(MAMBA1, dir, { 'tokenizer.json': tokenizerWith((t) => { t.added_tokens[0].id = '7'; }) }).map((a) => (a === '--prompt-ids' ? '--prompt' : a === '1,2' ? 'hi' : a)),
  },
  {
    name: 'temperature 1e-320',
    expect: /--temperature: 1e-320 is outside the range of f32/,
    build: (dir) => copyOf(MAMBA1, dir).map((a) => (a === '0' ? '1e-320' : a)),
  },
  {
    name: 'repetition penalty 5e-324',
    expect: /--repetition-penalty: 5e-324 is outside the range of f32/,
    build: (dir) => [...copyOf(MAMBA1, dir), '--repetition-penalty', '5e-324'],
  },
];

/** A corpus entry as a fuzz case: runs generate in this process (or reads the .bin alone). */
export function corpusCase(name: string, work: string): Case {
  const entry = CORPUS.find((c) => c.name === name);
  if (!entry) throw new Error(`no corpus entry "${name}"`);
  return {
    what: name,
    async run() {
      const dir = fs.mkdtempSync(path.join(work, 'corpus-'));
      const argv = entry.build(dir);
      const write = process.stdout.write;
      process.stdout.write = (() => true) as typeof process.stdout.write;
      try {
        if (argv[0] === '--read-bin') {
          const { readTorchBin } = await import('../../src/io/torch-bin.js');
          readTorchBin(argv[1]);
        } else {
          const { runGenerate } = await import('../../src/cli/generate.js');
          await runGenerate(argv);
        }
        return { outcome: 'loaded', detail: `${name}: loaded` };
      } catch (e) {
        const r = classify(e, name);
        if (r.outcome === 'user-error' && !entry.expect.test(r.detail)) return { outcome: 'wrong', detail: `${r.detail} (expected ${entry.expect})` };
        return r;
      } finally {
        process.stdout.write = write;
      }
    },
  };
}

