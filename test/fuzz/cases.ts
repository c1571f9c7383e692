/**
 * The fuzzer's cases: each builds a mutated input from a fixture (a model folder, a tokenizer
 * file or a command line), runs it through the loader in this process, and says how it ended:
 * a UserError (good), a sound load (good), or a failure (an internal error, or a load that the
 * oracle finds wrong). Hangs and memory blow-ups are judged by run.ts, which watches this process.
 *
 * Oracles for loads that succeed:
 * - safetensors: a mutation confined to the header (bytes, length field, JSON values) must give
 *   tensors bit-identical to the pristine file; one that touched the data section must still
 *   give the pristine names and shapes (the values may change: the file says so).
 * - bin: the zip's CRC-32 covers every entry, so byte and directory edits that load must give
 *   bit-identical tensors; a rewritten pickle (with a fresh CRC) may pick other elements of the
 *   storages, but every value must be one of the storages' values (never memory from elsewhere).
 * - config: the mutated config.json with the pristine weights must give finite logits.
 * - tokenizer: encoding sample texts gives integer ids below the vocabulary size, and they decode.
 * - flags: `generate` with mutated sampling flags either refuses a flag or exits 0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../src/errors.js';
import { readCheckpoint } from '../../src/io/checkpoint.js';
import type { HostTensor } from '../../src/io/host-tensor.js';
import { parseJson } from '../../src/io/json.js';
import { closeZip, openZip, readZipEntry } from '../../src/io/zip.js';
import { expectedShapes } from '../../src/model/params.js';
import { FIXTURES } from '../fixtures.js';
import { FuzzRng, mutateBytes, mutateJson } from './mutate.js';
import { P, zipBytes, type ZipInput } from './zip-writer.js';

export const FORMATS = ['safetensors', 'bin', 'config', 'tokenizer', 'flags'] as const;
export type Format = (typeof FORMATS)[number];

export type Outcome = 'user-error' | 'loaded' | 'internal-error' | 'wrong' | 'hang' | 'memory';
export const FAILURES: readonly Outcome[] = ['internal-error', 'wrong', 'hang', 'memory'];

export interface Result {
  outcome: Outcome;
  /** the mutation, and the error message or what the oracle found */
  detail: string;
}

/** What a case does, once built: run it, then judge a successful run. */
export interface Case {
  what: string;
  run(): Promise<Result>;
}

const HF = path.join(FIXTURES, 'hf');
const MS = path.join(FIXTURES, 'mamba_ssm');

export function classify(e: unknown, what: string): Result {
  if (e instanceof UserError) return { outcome: 'user-error', detail: `${what}: ${e.message.slice(0, 300)}` };
  const err = e as Error;
  return { outcome: 'internal-error', detail: `${what}: ${err?.name}: ${String(err?.message).slice(0, 300)}\n${err?.stack?.split('\n').slice(1, 6).join('\n')}` };
}

/** A fresh folder with the fixture's files, `files` replaced. */
function folder(work: string, fixture: string, files: Record<string, Uint8Array | string>): string {
  const dir = fs.mkdtempSync(path.join(work, 'case-'));
  for (const f of fs.readdirSync(fixture)) {
    if (f === 'config.json' || f.startsWith('model.') || f.startsWith('pytorch_model')) fs.copyFileSync(path.join(fixture, f), path.join(dir, f));
  }
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), data);
  return dir;
}

const sameBits = (a: HostTensor, b: HostTensor) =>
  a.shape.join() === b.shape.join() && Buffer.compare(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength),
    Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength)) === 0;

/** Loads `dir` and checks it against the pristine weights. */
async function loadAndJudge(dir: string, what: string, judge: (w: Map<string, HostTensor>) => string | undefined): Promise<Result> {
  let weights: Map<string, HostTensor>;
  try {
    weights = readCheckpoint(dir, expectedShapes).weights;
  } catch (e) {
    return classify(e, what);
  }
  const wrong = judge(weights);
  return wrong ? { outcome: 'wrong', detail: `${what}: ${wrong}` } : { outcome: 'loaded', detail: what };
}

const pristineCache = new Map<string, Map<string, HostTensor>>();
function pristine(fixture: string): Map<string, HostTensor> {
  let w = pristineCache.get(fixture);
  if (!w) pristineCache.set(fixture, (w = readCheckpoint(fixture, expectedShapes).weights));
  return w;
}

function identical(fixture: string) {
  return (w: Map<string, HostTensor>): string | undefined => {
    for (const [name, t] of pristine(fixture)) if (!w.has(name) || !sameBits(w.get(name)!, t)) return `tensor ${name} differs from the pristine file`;
    return undefined;
  };
}

function sameShapes(fixture: string) {
  return (w: Map<string, HostTensor>): string | undefined => {
    for (const [name, t] of pristine(fixture)) {
      const m = w.get(name);
      if (!m || m.shape.join() !== t.shape.join() || m.data.length !== t.data.length) return `tensor ${name} has another shape or length`;
    }
    return undefined;
  };
}

// ---- safetensors ----

export function safetensorsCase(rng: FuzzRng, work: string): Case {
  const fixture = path.join(HF, rng.pick(['mamba1-tiny', 'mamba2-tiny']));
  const bytes = fs.readFileSync(path.join(fixture, 'model.safetensors'));
  const n = Number(bytes.readBigUInt64LE(0));
  const kind = rng.pick(['header-bytes', 'header-length', 'header-json', 'data-bytes', 'anywhere'] as const);
  let out: Uint8Array;
  let headerOnly = true;
  if (kind === 'header-bytes') {
    out = mutateBytes(rng, bytes, 0, 8 + n);
  } else if (kind === 'header-length') {
    out = Buffer.from(bytes);
    const delta = rng.pick([-16, -8, -4, -3, -2, -1, 1, 2, 3, 4, 8, 16, 1 << 20, -n]);
    (out as Buffer).writeBigUInt64LE(BigInt(Math.max(0, n + delta)), 0);
  } else if (kind === 'header-json') {
    const json = Buffer.from(mutateJson(rng, bytes.subarray(8, 8 + n).toString()));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    out = Buffer.concat([len, json, bytes.subarray(8 + n)]);
  } else if (kind === 'data-bytes') {
    out = Buffer.from(bytes);
    for (let e = 0; e < 1 + rng.int(4); e++) out[8 + n + rng.int(bytes.length - 8 - n)] ^= 1 << rng.int(8);
    headerOnly = false;
  } else {
    out = mutateBytes(rng, bytes);
    headerOnly = false;
  }
  const what = `safetensors ${kind} of ${path.basename(fixture)}`;
  return {
    what,
    run: () => loadAndJudge(folder(work, fixture, { 'model.safetensors': out }), what, headerOnly ? identical(fixture) : sameShapes(fixture)),
  };
}

// ---- torch .bin ----

function binEntries(file: string): ZipInput[] {
  const zip = openZip(file);
  try {
    return [...zip.entries.values()].map((e) => ({ name: e.name, data: readZipEntry(zip, e) }));
  } finally {
    closeZip(zip);
  }
}

/** Every float value of the pristine storages, as bit patterns. */
const storageValues = new Map<string, Set<number>>();
function valuesOf(fixture: string, entries: ZipInput[]): Set<number> {
  let set = storageValues.get(fixture);
  if (!set) {
    set = new Set();
    for (const e of entries) {
      if (!/\/data\/[^/]+$/.test(e.name)) continue;
      const copy = Uint8Array.from(e.data);
      for (const v of new Uint32Array(copy.buffer, 0, copy.length >> 2)) set.add(v);
    }
    storageValues.set(fixture, set);
  }
  return set;
}

/** Pickle edits that reach the parts of the machine torch.save never exercises. */
function mutatePickle(rng: FuzzRng, pkl: Uint8Array): Uint8Array {
  const b = Buffer.from(pkl);
  const at = 2 + rng.int(b.length - 3);
  switch (rng.int(5)) {
    case 0: return Buffer.concat([b.subarray(0, at), P.long4(Buffer.alloc(rng.pick([9, 300, 100_000]), 0x7f)), Buffer.from('0'), b.subarray(at)]);
    case 1: {
      // an integer operand: BININT1 -> BININT with an interesting value
      const i = b.indexOf(0x4b, at);
      if (i < 0) return mutateBytes(rng, b);
      const v = Buffer.alloc(4);
      v.writeInt32LE(rng.pick([-1, -2, 0x7fffffff, 1 << 30, 3, 0]));
      return Buffer.concat([b.subarray(0, i), Buffer.from('J'), v, b.subarray(i + 2)]);
    }
    case 2: b[at] = rng.pick([0x28, 0x29, 0x2e, 0x30, 0x31, 0x32, 0x51, 0x52, 0x61, 0x65, 0x68, 0x71, 0x73, 0x74, 0x75, 0x85, 0x86, 0x87, 0x8a, 0x93, 0x94]); return b;
    case 3: return Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + rng.int(64)), b.subarray(at)]); // a repeated slice
    default: return mutateBytes(rng, b);
  }
}

export function binCase(rng: FuzzRng, work: string): Case {
  const fixture = path.join(MS, rng.pick(['ms-mamba1', 'ms-mamba2-g2']));
  const file = path.join(fixture, 'pytorch_model.bin');
  const kind = rng.pick(['bytes', 'bytes', 'pickle', 'pickle', 'directory', 'deflate'] as const);
  const entries = binEntries(file);
  let out: Uint8Array;
  let judge = identical(fixture);
  if (kind === 'bytes') {
    out = mutateBytes(rng, fs.readFileSync(file));
  } else if (kind === 'pickle') {
    out = zipBytes(entries.map((e) => (e.name.endsWith('/data.pkl') ? { name: e.name, data: mutatePickle(rng, e.data) } : e)));
    const allowed = valuesOf(fixture, entries);
    judge = (w) => {
      const shapes = sameShapes(fixture)(w);
      if (shapes) return shapes;
      for (const [name, t] of w) for (const v of new Uint32Array(Float32Array.from(t.data).buffer)) if (!allowed.has(v)) return `tensor ${name} holds a value from no storage`;
      return undefined;
    };
  } else if (kind === 'directory') {
    // one interesting value in a size, offset or count field of a local or central header
    const b = Buffer.from(fs.readFileSync(file));
    const sigs = [0x04034b50, 0x02014b50, 0x06054b50];
    const spots: number[] = [];
    for (let i = 0; i + 4 <= b.length; i++) if (sigs.includes(b.readUInt32LE(i))) spots.push(i);
    const at = rng.pick(spots) + rng.pick([8, 10, 14, 16, 18, 20, 22, 24, 26, 28, 42]);
    if (at + 4 <= b.length) b.writeUInt32LE(rng.pick([0, 1, 0xffffffff, 0x7fffffff, 1 << 30, 46, b.length]) >>> 0, at);
    out = b;
  } else {
    // deflated storages whose directory claims a size other than the real one (or the real one)
    out = zipBytes(entries.map((e) => (/\/data\/\d+$/.test(e.name) && rng.next() < 0.5
      ? { ...e, deflate: true, claimedSize: rng.next() < 0.5 ? e.data.length : rng.pick([0, 1, e.data.length - 1, e.data.length + 4, 1 << 30]) }
      : e)));
  }
  const what = `bin ${kind} of ${path.basename(fixture)}`;
  return { what, run: () => loadAndJudge(folder(work, fixture, { 'pytorch_model.bin': out }), what, judge) };
}

// ---- config.json ----

let backend: import('../../src/backend/backend.js').Backend | undefined;

export function configCase(rng: FuzzRng, work: string): Case {
  const fixture = rng.pick([path.join(HF, 'mamba1-tiny'), path.join(HF, 'mamba2-tiny'), path.join(MS, 'ms-hybrid'), path.join(MS, 'ms-mamba1')]);
  const text = fs.readFileSync(path.join(fixture, 'config.json'), 'utf8');
  const bytesKind = rng.next() < 0.2;
  const out = bytesKind ? mutateBytes(rng, Buffer.from(text)) : mutateJson(rng, text, (t) => parseJson(t, 'config.json'));
  const what = `config ${bytesKind ? 'bytes' : 'json'} of ${path.basename(fixture)}`;
  return {
    what,
    async run() {
      const dir = folder(work, fixture, { 'config.json': out });
      const { loadModel } = await import('../../src/model/load.js');
      const { CpuBackend } = await import('../../src/backend/cpu/index.js');
      backend ??= new CpuBackend();
      let logits: Float32Array;
      try {
        const model = await loadModel(dir, backend);
        const ids = backend.upload(Int32Array.from([1, 2, 3, 4]), [1, 4]);
        logits = (await model.forward(ids).logits.read()) as Float32Array;
      } catch (e) {
        return classify(e, what);
      }
      const bad = logits.findIndex((v) => !Number.isFinite(v));
      return bad < 0 ? { outcome: 'loaded', detail: what } : { outcome: 'wrong', detail: `${what}: logit ${bad} is ${logits[bad]}` };
    },
  };
}

// ---- tokenizer.json ----

const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/**
 * A small BPE tokenizer cut from the GPT-NeoX fixture (its first 300 merges, ids made dense)
 * with a Split pre-tokenizer on GPT-2's pattern, so that every part of the format is present
 * and a case costs milliseconds rather than the full file's second.
 */
let smallTokenizer: string | undefined;
export function smallTokenizerJson(): string {
  if (smallTokenizer) return smallTokenizer;
  const full = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tokenizers/gpt-neox-20b/tokenizer.json'), 'utf8'));
  const merges: string[] = full.model.merges.slice(0, 300);
  const vocab: Record<string, number> = {};
  const add = (t: string) => (vocab[t] ??= Object.keys(vocab).length);
  for (const [t] of Object.entries(full.model.vocab as Record<string, number>).filter(([t]) => [...t].length === 1).sort((a, b) => a[1] - b[1])) add(t);
  for (const m of merges) {
    const [a, b] = m.split(' ');
    add(a);
    add(b);
    add(a + b);
  }
  const next = Object.keys(vocab).length;
  const added = full.added_tokens.slice(0, 2).map((t: { id: number }, i: number) => ({ ...t, id: next + i }));
  smallTokenizer = JSON.stringify({
    ...full,
    added_tokens: added,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: GPT2_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    model: { ...full.model, vocab, merges },
  });
  return smallTokenizer;
}

const PATTERN_PIECES = ['(a+)+', '(\\s*)*', '(?:x|xy)*', '\\p{L}+', '{2,}', '(', ')', '|', '[^a]', '(?=a)', '\\', '*', '(.*a){12}', '[', '\\p{', '(?<n>b)'];
const SAMPLES = ['Hello world, this is a test.', 'aaaaaaaaaaaaaaaaaaaaaaaaaaa!', ' \n\t 123 ünï € 日本', '<|endoftext|>x', ''];

export function tokenizerCase(rng: FuzzRng, work: string): Case {
  const text = smallTokenizerJson();
  const kind = rng.pick(['json', 'json', 'pattern', 'bytes'] as const);
  let out: string | Uint8Array;
  if (kind === 'json') out = mutateJson(rng, text);
  else if (kind === 'bytes') out = mutateBytes(rng, Buffer.from(text));
  else {
    const json = JSON.parse(text);
    let p = GPT2_PATTERN;
    for (let e = 0; e < 1 + rng.int(3); e++) {
      const at = rng.int(p.length + 1);
      p = p.slice(0, at) + rng.pick(PATTERN_PIECES) + p.slice(at);
    }
    json.pre_tokenizer.pretokenizers[0].pattern.Regex = p;
    out = JSON.stringify(json);
  }
  const what = `tokenizer ${kind}`;
  return {
    what,
    async run() {
      const dir = fs.mkdtempSync(path.join(work, 'tok-'));
      const file = path.join(dir, 'tokenizer.json');
      fs.writeFileSync(file, out);
      const { HfTokenizer } = await import('../../src/text/hf.js');
      try {
        const tok = HfTokenizer.fromFile(file);
        for (const s of SAMPLES) {
          const ids = tok.encode(s);
          const bad = ids.find((id) => !(Number.isInteger(id) && id >= 0 && id < tok.vocabSize));
          if (bad !== undefined) return { outcome: 'wrong', detail: `${what}: id ${bad} outside [0, ${tok.vocabSize})` };
          if (typeof tok.decode(ids) !== 'string') return { outcome: 'wrong', detail: `${what}: decode gave no string` };
        }
      } catch (e) {
        return classify(e, what);
      }
      return { outcome: 'loaded', detail: what };
    },
  };
}

// ---- command-line flags ----

const FLAG_VALUES = [
  '1e-320', '1e-40', '1e-38', '1.2e-38', '5e-324', '0', '-0', '-1', 'NaN', 'Infinity', '-Infinity', '1e308', '1e39', '1e9', '16777217',
  '0x10', '1_000', '', ' 1', '1e', '.5', '5.', '4294967296', '99999999999999999999999', '0.999', '1', '2', '1,2', '1e-30', 'abc',
];
const SAMPLING = ['temperature', 'top-k', 'top-p', 'min-p', 'repetition-penalty', 'seed', 'prompt-ids', 'stop-ids', 'max-new-tokens'];

export function flagsCase(rng: FuzzRng): Case {
  const flags = new Map<string, string>([['prompt-ids', '1,2,3'], ['max-new-tokens', '2'], ['temperature', '0.8'], ['seed', '1']]);
  for (let e = 0; e < 1 + rng.int(3); e++) flags.set(rng.pick(SAMPLING), rng.pick(FLAG_VALUES));
  // a valid large --max-new-tokens is a long run, not a bug: keep the runs short
  const max = Number(flags.get('max-new-tokens'));
  if (Number.isFinite(max) && max > 8) flags.set('max-new-tokens', '8');
  const argv = ['--model', path.join(HF, 'mamba1-tiny'), '--ids-only', ...[...flags].map(([k, v]) => `--${k}=${v}`)];
  const what = `flags generate ${argv.slice(3).join(' ')}`;
  return {
    what,
    async run() {
      const { runGenerate } = await import('../../src/cli/generate.js');
      const write = process.stdout.write;
      process.stdout.write = (() => true) as typeof process.stdout.write;
      try {
        const code = await runGenerate(argv);
        return code === 0 ? { outcome: 'loaded', detail: what } : { outcome: 'wrong', detail: `${what}: exit code ${code} without an error` };
      } catch (e) {
        return classify(e, what);
      } finally {
        process.stdout.write = write;
      }
    },
  };
}

export function buildCase(format: Format, rng: FuzzRng, work: string): Case {
  switch (format) {
    case 'safetensors': return safetensorsCase(rng, work);
    case 'bin': return binCase(rng, work);
    case 'config': return configCase(rng, work);
    case 'tokenizer': return tokenizerCase(rng, work);
    case 'flags': return flagsCase(rng);
  }
}
