/**
 * Decoding is linear in length with a constant-size state: 10,000 `step`s of Mamba-1 and Mamba-2
 * models (random weights) on the CPU, printing the state's bytes and the JS heap (after a full GC)
 * as decoding goes on. A flat heap means no per-step leak; the state bytes never change.
 *
 *   node --expose-gc dist/bench/decode-memory.js [--tokens 10000]
 */
import { CpuBackend } from '../src/backend/cpu/index.js';
import { MambaLM } from '../src/model/lm.js';
import { preset, randomWeights } from '../src/model/presets.js';
import type { ModelState } from '../src/model/state.js';
import { uploadWeights } from '../src/model/weights.js';
import { layerStackConfig } from '../src/train/architecture.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('decode-memory: run with node --expose-gc');
  process.exit(2);
}
const i = process.argv.indexOf('--tokens');
const TOKENS = i >= 0 ? Number(process.argv[i + 1]) : 10_000;

function stateBytes(s: ModelState): number {
  let n = 0;
  const visit = (v: unknown): void => {
    if (v && typeof v === 'object') {
      if ('size' in v && 'dtype' in v && typeof (v as { size: unknown }).size === 'number') n += 4 * (v as { size: number }).size;
      else Object.values(v).forEach(visit);
    }
  };
  visit(s.layers);
  return n;
}

const be = new CpuBackend();
const models = {
  'mamba1 d256 x4': layerStackConfig({ layers: 'mamba*4', dModel: 256, dState: 16, expand: 2, headDim: 64, heads: 4, dIntermediate: 0, vocabSize: 256 }),
  'mamba2 d256 x4': layerStackConfig({ layers: 'mamba2*4', dModel: 256, dState: 64, expand: 2, headDim: 64, heads: 4, dIntermediate: 0, vocabSize: 256 }),
  'mamba-130m (400 tokens)': preset('mamba-130m'),
};
console.log(`${new Date().toISOString()}  decode ${TOKENS} tokens, batch 1, CPU`);
console.log('model                     | tokens | state bytes | heap MB after GC | ms/token');
for (const [name, config] of Object.entries(models)) {
  const model = new MambaLM(config, uploadWeights(randomWeights(config, 1), be), be);
  const tokens = name.startsWith('mamba-130m') ? 400 : TOKENS;
  let state = model.initState(1, 16);
  let id = be.upload(new Int32Array([1]), [1]);
  let t0 = performance.now();
  for (let t = 1; t <= tokens; t++) {
    const out = model.step(id, state);
    state = out.state;
    const z = (await out.logits.read()) as Float32Array;
    id = be.upload(new Int32Array([z.indexOf(Math.max(...z.subarray(0, 256)))]), [1]);
    if (t === 1 || t % (tokens / 4) === 0) {
      const ms = (performance.now() - t0) / (t === 1 ? 1 : tokens / 4);
      gc();
      const heap = process.memoryUsage().heapUsed / 2 ** 20;
      console.log(`${name.padEnd(25)} | ${String(t).padStart(6)} | ${String(stateBytes(state)).padStart(11)} | ${heap.toFixed(1).padStart(16)} | ${ms.toFixed(2)}`);
      t0 = performance.now();
    }
  }
}
