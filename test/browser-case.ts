/**
 * One model case, run the same way on any backend: in Node on the CPU, and in a browser page on
 * navigator.gpu (test/browser-webgpu.test.ts serves this file, compiled, to headless Chromium).
 * Imports nothing Node-only.
 */
import type { Backend } from '../src/backend/backend.js';
import { MambaLM } from '../src/model/lm.js';
import { randomWeights } from '../src/model/presets.js';
import { uploadWeights } from '../src/model/weights.js';
import { layerStackConfig } from '../src/train/architecture.js';

/** layer stacks covered: Mamba-2 with attention, and Mamba-1 */
export const STACKS = ['mamba2,attention,mamba2', 'mamba1*2'];

/** input ids [B 2, L 7] over a byte vocabulary */
const IDS = [[3, 17, 200, 5, 5, 99, 0], [42, 1, 7, 255, 128, 64, 9]];

export interface CaseResult {
  /** forward logits [B, L, V] */
  forward: number[];
  /** step logits, token by token: [L, B, V] */
  steps: number[];
}

export async function runCase(be: Backend, layers: string): Promise<CaseResult> {
  const config = layerStackConfig({ layers, dModel: 32, dState: 8, expand: 2, headDim: 16, heads: 4, dIntermediate: 0, vocabSize: 256 });
  const model = new MambaLM(config, uploadWeights(randomWeights(config, 11), be), be);
  const B = IDS.length, L = IDS[0].length;
  const forward = Array.from(await model.forward(be.upload(Int32Array.from(IDS.flat()), [B, L])).logits.read());
  let state = model.initState(B, L);
  const steps: number[] = [];
  for (let t = 0; t < L; t++) {
    const out = model.step(be.upload(Int32Array.from(IDS.map((row) => row[t])), [B]), state);
    state = out.state;
    steps.push(...(await out.logits.read()));
  }
  return { forward, steps };
}
