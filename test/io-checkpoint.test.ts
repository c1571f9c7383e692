import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES } from './fixtures.js';
import { UserError } from '../src/errors.js';
import { paddedVocab } from '../src/config.js';
import { readCheckpoint, writeCheckpoint } from '../src/io/checkpoint.js';
import { canonicalName, checkpointName, parameterNames } from '../src/io/names.js';
import { parseJson } from '../src/io/json.js';
import { readSafetensors, readSafetensorsWithMetadata, writeSafetensors } from '../src/io/safetensors.js';
import { readTorchBin } from '../src/io/torch-bin.js';
import type { HostTensor } from '../src/io/host-tensor.js';

const fixtures = FIXTURES;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'io-checkpoint-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ALL = ['hf/mamba1-tiny', 'hf/mamba1-tied-residual32', 'hf/mamba2-tiny',
  'mamba_ssm/ms-mamba1', 'mamba_ssm/ms-mamba2-g2', 'mamba_ssm/ms-hybrid'];

function throwsUser(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return true;
  });
}

function sameTensors(a: Map<string, HostTensor>, b: Map<string, HostTensor>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, t] of a) {
    const u = b.get(k)!;
    assert.deepEqual(u.shape, t.shape, k);
    assert.equal(u.dtype, t.dtype, k);
    assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)
      .equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)), k);
  }
}

test('all six fixtures load with canonical names and expected shapes', () => {
  const expect: Record<string, { format: string; count: number; inProj: number[]; conv: number[]; head: boolean }> = {
    'hf/mamba1-tiny': { format: 'hf', count: 22, inProj: [256, 64], conv: [128, 4], head: false },
    'hf/mamba1-tied-residual32': { format: 'hf', count: 32, inProj: [256, 64], conv: [128, 4], head: false },
    'hf/mamba2-tiny': { format: 'hf', count: 21, inProj: [296, 64], conv: [160, 4], head: true },
    'mamba_ssm/ms-mamba1': { format: 'mamba_ssm', count: 22, inProj: [256, 64], conv: [128, 4], head: false },
    'mamba_ssm/ms-mamba2-g2': { format: 'mamba_ssm', count: 20, inProj: [328, 64], conv: [192, 4], head: false },
    'mamba_ssm/ms-hybrid': { format: 'mamba_ssm', count: 45, inProj: [296, 64], conv: [160, 4], head: true },
  };
  for (const dir of ALL) {
    const e = expect[dir];
    const c = readCheckpoint(path.join(fixtures, dir));
    assert.equal(c.format, e.format, dir);
    assert.equal(c.weights.size, e.count, dir);
    assert.deepEqual([...c.weights.keys()].sort(), parameterNames(c.config).sort(), dir);
    assert.deepEqual(c.weights.get('embedding.weight')!.shape, [paddedVocab(c.config), 64], dir);
    assert.deepEqual(c.weights.get('layers.0.mixer.in_proj.weight')!.shape, e.inProj, dir);
    assert.deepEqual(c.weights.get('layers.0.mixer.conv1d.weight')!.shape, e.conv, dir);
    assert.equal(c.weights.has('lm_head.weight'), e.head, dir);
    assert.equal(c.checkpointNames.get('embedding.weight'),
      e.format === 'hf' ? 'backbone.embeddings.weight' : 'backbone.embedding.weight', dir);
    assert.equal(c.checkpointNames.get('layers.0.norm.weight'), 'backbone.layers.0.norm.weight');
  }
  const hy = readCheckpoint(path.join(fixtures, 'mamba_ssm/ms-hybrid'));
  assert.deepEqual(hy.weights.get('layers.1.mixer.in_proj.weight')!.shape, [128, 64]);
  assert.deepEqual(hy.weights.get('layers.1.mixer.out_proj.weight')!.shape, [64, 64]);
  assert.deepEqual(hy.weights.get('layers.3.mlp.fc1.weight')!.shape, [256, 64]);
  assert.deepEqual(hy.weights.get('layers.3.mlp.fc2.weight')!.shape, [64, 128]);
  assert.equal(hy.weights.has('layers.1.mixer.conv1d.weight'), false);
});

test('values come through unchanged; conv weights keep their data', () => {
  const raw = readSafetensors(path.join(fixtures, 'hf/mamba2-tiny/model.safetensors'));
  const c = readCheckpoint(path.join(fixtures, 'hf/mamba2-tiny'));
  for (const [name, key] of c.checkpointNames) assert.deepEqual([...c.weights.get(name)!.data], [...raw.get(key)!.data], name);
  const bin = readTorchBin(path.join(fixtures, 'mamba_ssm/ms-mamba1/pytorch_model.bin'));
  const m = readCheckpoint(path.join(fixtures, 'mamba_ssm/ms-mamba1'));
  assert.deepEqual([...m.weights.get('layers.1.mixer.conv1d.weight')!.data], [...bin.get('backbone.layers.1.mixer.conv1d.weight')!.data]);
  assert.equal(m.weights.get('embedding.weight')!.data[0], -0.009290410205721855);
});

test('HF fixtures: every gradient in expected.safetensors names a parameter, and every parameter has one', () => {
  for (const dir of ['hf/mamba1-tiny', 'hf/mamba1-tied-residual32', 'hf/mamba2-tiny']) {
    const c = readCheckpoint(path.join(fixtures, dir));
    const grads = [...readSafetensors(path.join(fixtures, dir, 'expected.safetensors')).keys()]
      .filter((k) => k.startsWith('grad.')).map((k) => k.slice(5));
    const names = grads.map((k) => canonicalName(k, 'hf'));
    assert.deepEqual([...names].sort(), parameterNames(c.config).sort(), dir);
    for (const key of c.checkpointNames.values()) assert.ok(grads.includes(key), `${dir}: ${key}`);
  }
});

test('write + read round trip: pure stacks as HF, hybrids as mamba_ssm', () => {
  for (const dir of ALL) {
    const src = readCheckpoint(path.join(fixtures, dir));
    const out = path.join(tmp, dir);
    const format = writeCheckpoint(out, src.config, src.weights);
    assert.equal(format, dir.endsWith('hybrid') ? 'mamba_ssm' : 'hf', dir);
    assert.deepEqual(fs.readdirSync(out).sort(), ['config.json', 'model.safetensors'], dir);
    const back = readCheckpoint(out);
    assert.equal(back.format, format);
    sameTensors(src.weights, back.weights);
    if (dir.startsWith('hf/') || format === 'mamba_ssm') assert.deepEqual(back.config, src.config, dir);
    else {
      // mamba_ssm -> HF: transformers has no padded vocabulary, so the padded size becomes vocab_size.
      assert.deepEqual(back.config.layers, src.config.layers, dir);
      assert.equal(back.config.vocabSize, paddedVocab(src.config), dir);
      assert.equal(paddedVocab(back.config), paddedVocab(src.config), dir);
    }
    const { tensors: file, metadata } = readSafetensorsWithMetadata(path.join(out, 'model.safetensors'));
    assert.equal(metadata.format, 'pt');
    assert.deepEqual(file.get('backbone.layers.0.mixer.conv1d.weight')!.shape.length, 3);
    assert.equal(file.has('lm_head.weight'), !src.config.tieEmbeddings, dir);
    assert.ok(file.has(format === 'hf' ? 'backbone.embeddings.weight' : 'backbone.embedding.weight'), dir);
  }
  const json = JSON.parse(fs.readFileSync(path.join(tmp, 'hf/mamba1-tiny/config.json'), 'utf8'));
  assert.equal(json.model_type, 'mamba');
  assert.deepEqual(json.architectures, ['MambaForCausalLM']);
  assert.equal(json.intermediate_size, 128);
});

test('sharded safetensors (model.safetensors.index.json)', () => {
  const dir = path.join(tmp, 'sharded');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(fixtures, 'hf/mamba2-tiny/config.json'), path.join(dir, 'config.json'));
  const raw = readSafetensors(path.join(fixtures, 'hf/mamba2-tiny/model.safetensors'));
  const keys = [...raw.keys()];
  const half = Math.floor(keys.length / 2);
  const shards = [keys.slice(0, half), keys.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((ks, i) => {
    const name = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(path.join(dir, name), new Map(ks.map((k) => [k, raw.get(k)!])));
    for (const k of ks) weightMap[k] = name;
  });
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  sameTensors(readCheckpoint(dir).weights, readCheckpoint(path.join(fixtures, 'hf/mamba2-tiny')).weights);

  weightMap['backbone.norm_f.weight'] = 'model-00001-of-00002.safetensors';
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
  throwsUser(() => readCheckpoint(dir), 'index.json', '"backbone.norm_f.weight"', 'not in shard');
});

test('bad folders and mismatched weights are UserErrors naming the path and tensor', () => {
  const missing = path.join(tmp, 'nowhere');
  throwsUser(() => readCheckpoint(missing), missing, 'not found');

  const noConfig = path.join(tmp, 'noconfig');
  fs.mkdirSync(noConfig);
  throwsUser(() => readCheckpoint(noConfig), path.join(noConfig, 'config.json'), 'not found');

  const noWeights = path.join(tmp, 'noweights');
  fs.mkdirSync(noWeights);
  fs.copyFileSync(path.join(fixtures, 'hf/mamba1-tiny/config.json'), path.join(noWeights, 'config.json'));
  throwsUser(() => readCheckpoint(noWeights), noWeights, 'no weights');

  const raw = readSafetensors(path.join(fixtures, 'hf/mamba1-tiny/model.safetensors'));
  const variant = (name: string, edit: (m: Map<string, HostTensor>) => void) => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(fixtures, 'hf/mamba1-tiny/config.json'), path.join(dir, 'config.json'));
    const m = new Map(raw);
    edit(m);
    writeSafetensors(path.join(dir, 'model.safetensors'), m);
    return dir;
  };
  const extra = variant('extra', (m) => m.set('backbone.layers.0.mixer.bogus', { shape: [1], dtype: 'f32', data: new Float32Array(1) }));
  throwsUser(() => readCheckpoint(extra), 'model.safetensors', 'unknown tensor "backbone.layers.0.mixer.bogus"');
  const layer = variant('layer', (m) => m.set('backbone.layers.5.norm.weight', { shape: [64], dtype: 'f32', data: new Float32Array(64) }));
  throwsUser(() => readCheckpoint(layer), 'unknown tensor "backbone.layers.5.norm.weight"');
  const lacking = variant('lacking', (m) => m.delete('backbone.layers.1.mixer.D'));
  throwsUser(() => readCheckpoint(lacking), 'model.safetensors', '"backbone.layers.1.mixer.D" is missing');
  const conv = variant('conv', (m) => m.set('backbone.layers.0.mixer.conv1d.weight', { shape: [128, 4], dtype: 'f32', data: new Float32Array(512) }));
  throwsUser(() => readCheckpoint(conv), '"backbone.layers.0.mixer.conv1d.weight"', '[128,4]');
  // a tied model's stored lm_head is the embedding again and is dropped
  const tiedHead = variant('tiedhead', (m) => m.set('lm_head.weight', raw.get('backbone.embeddings.weight')!));
  assert.equal(readCheckpoint(tiedHead).weights.has('lm_head.weight'), false);

  const src = readCheckpoint(path.join(fixtures, 'hf/mamba1-tiny'));
  const fewer = new Map(src.weights);
  fewer.delete('norm_f.weight');
  throwsUser(() => writeCheckpoint(path.join(tmp, 'w1'), src.config, fewer), '"norm_f.weight" is missing');
  const more = new Map(src.weights).set('lm_head.weight', src.weights.get('embedding.weight')!);
  throwsUser(() => writeCheckpoint(path.join(tmp, 'w2'), src.config, more), '"lm_head.weight" does not belong');
});

test('NemotronH: write + read round trip is identical, config.json has exactly the fields transformers writes', () => {
  const dir = 'hf/nemotronh-tiny';
  const src = readCheckpoint(path.join(fixtures, dir));
  assert.equal(src.format, 'nemotron_h');
  const out = path.join(tmp, 'nemotronh');
  assert.equal(writeCheckpoint(out, src.config, src.weights), 'nemotron_h');
  const back = readCheckpoint(out);
  assert.deepEqual(back.config, src.config);
  sameTensors(src.weights, back.weights);
  assert.deepEqual([...back.checkpointNames.values()].sort(), [...src.checkpointNames.values()].sort());
  const read = (d: string) => parseJson(fs.readFileSync(path.join(d, 'config.json'), 'utf8'), d) as Record<string, unknown>;
  const want = read(path.join(fixtures, dir));
  const got = read(out);
  assert.deepEqual(Object.keys(got), Object.keys(want));
  assert.deepEqual(got, want);
});

test('Llama: checkpoint names map to the canonical ones and back; write + read round trip', () => {
  const src = readCheckpoint(path.join(fixtures, 'hf/llama-tiny'));
  assert.equal(src.format, 'llama');
  const out = path.join(tmp, 'llama');
  assert.equal(writeCheckpoint(out, src.config, src.weights), 'llama');
  const back = readCheckpoint(out);
  assert.deepEqual(back.config, src.config);
  sameTensors(src.weights, back.weights);
  assert.deepEqual([...back.checkpointNames.values()].sort(), [...src.checkpointNames.values()].sort());
  const read = (d: string) => parseJson(fs.readFileSync(path.join(d, 'config.json'), 'utf8'), d) as Record<string, unknown>;
  const want = read(path.join(fixtures, 'hf/llama-tiny'));
  const got = read(out);
  assert.deepEqual(Object.keys(got), Object.keys(want));
  // the fixture's generation settings, where the writer keeps LlamaConfig's defaults
  for (const k of ['max_position_embeddings', 'pad_token_id']) delete got[k], delete want[k];
  assert.deepEqual(got, want);
  for (const [name, key] of src.checkpointNames) {
    assert.equal(canonicalName(key, 'llama'), name);
    assert.equal(checkpointName(name, 'llama'), key);
  }
  assert.equal(src.checkpointNames.get('layers.1.norm2.weight'), 'model.layers.1.post_attention_layernorm.weight');
  assert.equal(src.checkpointNames.get('layers.0.mixer.q_proj.weight'), 'model.layers.0.self_attn.q_proj.weight');
});
