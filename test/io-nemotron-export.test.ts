/**
 * NemotronH as transformers 5.x loads it (checked on the GPU machine, test/fixtures/README.md):
 * its Mamba-2 clamps Δ from below at time_step_min (time_step_limit is not read), and it does not
 * tie lm_head to the embedding, so a tied head is stored too.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Mamba2Config } from '../src/config.js';
import { readCheckpoint, writeCheckpoint } from '../src/io/checkpoint.js';
import { nemotronHUnsupportedReason } from '../src/io/nemotron-h-config.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { randomWeights } from '../src/model/presets.js';
import { layerStackConfig } from '../src/train/architecture.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nemotron-export-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const config = layerStackConfig({ layers: 'M-M*-', dModel: 32, dState: 8, expand: 2, headDim: 8, heads: 4, dIntermediate: 0, vocabSize: 40 });

test('a Megatron pattern saves as NemotronH: Δ clamped at time_step_min, the tied head stored, read back the same', () => {
  const m = config.layers[0].mixer as Mamba2Config;
  assert.deepEqual([m.dtLimit, m.dtMin, config.tieEmbeddings], [[0.001, Infinity], 0.001, true]);
  const weights = randomWeights(config, 3);
  assert.equal(writeCheckpoint(tmp, config, weights), 'nemotron_h');
  const stored = readSafetensors(path.join(tmp, 'model.safetensors'));
  assert.deepEqual(stored.get('lm_head.weight')!.data, weights.get('embedding.weight')!.data);
  const back = readCheckpoint(tmp);
  assert.deepEqual(back.config, config);
  assert.deepEqual([...back.weights.keys()].sort(), [...weights.keys()].sort());
  for (const [name, t] of weights) assert.deepEqual(back.weights.get(name)!.data, t.data, name);
});

test('a Mamba-2 clamp NemotronH cannot express is refused for that format', () => {
  const loose = structuredClone(config);
  (loose.layers[0].mixer as Mamba2Config).dtLimit = [0, Infinity];
  (loose.layers[2].mixer as Mamba2Config).dtLimit = [0, Infinity];
  assert.match(nemotronHUnsupportedReason(loose) ?? '', /clamps Δ to \[0,Infinity\]; NemotronH clamps it to \[time_step_min, inf\] = \[0\.001, inf\]/);
});
