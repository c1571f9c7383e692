import { join } from 'node:path';
import type { HostTensor } from '../src/io/host-tensor.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadModel } from '../src/model/load.js';
import type { MambaLM } from '../src/model/lm.js';
import { cpu } from './cpu-util.js';

export { FIXTURES } from './fixtures.js';
import { FIXTURES } from './fixtures.js';

export async function loadFixture(name: string): Promise<{ model: MambaLM; expected: Map<string, HostTensor> }> {
  const dir = join(FIXTURES, name);
  return { model: await loadModel(dir, cpu), expected: readSafetensors(join(dir, 'expected.safetensors')) };
}
