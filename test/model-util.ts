import { join } from 'node:path';
import { fromHfConfig } from '../src/io/hf-config.js';
import { fromMambaSsmConfig } from '../src/io/mamba-ssm-config.js';
import type { HostTensor } from '../src/io/host-tensor.js';
import { readJsonFile } from '../src/io/json.js';
import type { Json } from '../src/io/fields.js';
import { canonicalName, isConvWeight } from '../src/io/names.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { readTorchBin } from '../src/io/torch-bin.js';
import { MambaLM } from '../src/model/lm.js';
import { uploadWeights } from '../src/model/weights.js';
import { cpu } from './cpu-util.js';

export const FIXTURES = '/work/shared/fixtures';

export function loadFixture(name: string): { model: MambaLM; expected: Map<string, HostTensor> } {
  const dir = join(FIXTURES, name);
  const hf = name.startsWith('hf/');
  const json = readJsonFile(join(dir, 'config.json')) as Json;
  const config = hf ? fromHfConfig(json, 'config.json') : fromMambaSsmConfig(json, 'config.json');
  const raw = hf ? readSafetensors(join(dir, 'model.safetensors')) : readTorchBin(join(dir, 'pytorch_model.bin'));
  const host = new Map<string, HostTensor>();
  for (const [key, t] of raw) {
    const name = canonicalName(key, hf ? 'hf' : 'mamba_ssm');
    if (!name || (name === 'lm_head.weight' && config.tieEmbeddings)) continue;
    host.set(name, isConvWeight(name) ? { ...t, shape: [t.shape[0], t.shape[2]] } : t);
  }
  const model = new MambaLM(config, uploadWeights(host, cpu), cpu);
  return { model, expected: readSafetensors(join(dir, 'expected.safetensors')) };
}
