/**
 * Decoding on WebGPU: Mamba-2 130M (mamba2-130m architecture, random weights), one token per step
 * for a batch of sequences, greedy, against mamba_ssm's Mamba-2 decode on the same GPU (fp32,
 * no CUDA graphs; see bench/peer_mamba_ssm.py). Two loops, both built as src/backend/index.ts
 * documents (tidy step, device argmax, ids read back):
 *   sync       reads each step's ids before recording the next (a streaming CLI's loop)
 *   pipelined  submits each step as soon as it is recorded (its input ids stay on the device) and
 *              keeps up to --depth steps' read-backs in flight (default 4), so neither the GPU nor
 *              the host waits for a read-back's round trip (~2 ms through Dawn in Node on the H200):
 *              tokens reach the host in order, `depth` steps late (a loop with a fixed token budget
 *              can do this; a streaming loop that stops at a stop token is `sync`)
 * Also printed: host milliseconds to record one step, and a per-kernel GPU profile of one step.
 *
 *   node dist/bench/gpu-decode.js [--tokens 64] [--depth 4] [--vendor vendor-peer]
 */
import { greedyTokens } from '../src/backend/index.js';
import { disposeExcept, tidy } from '../src/backend/scope.js';
import { createWebGpuBackend, type WebGpuBackend } from '../src/backend/webgpu/backend.js';
import { MambaLM } from '../src/model/lm.js';
import { preset, randomWeights } from '../src/model/presets.js';
import type { ModelState } from '../src/model/state.js';
import { uploadWeights } from '../src/model/weights.js';
import type { Tensor } from '../src/tensor.js';
import { flag, profile, ratio, runPeer } from './gpu-util.js';

const BATCHES = [1, 64];

interface Peer { decode: { batch: number; ms_per_step: number; tok_s: number }[]; device: string }

/** One greedy step: the next ids on the device and the new state; the old ones are released. */
function step(model: MambaLM, ids: Tensor, state: ModelState): Promise<{ ids: Tensor; state: ModelState }> {
  const out = tidy(() => model.step(ids, state));
  disposeExcept([ids, state], out.state);
  const next = greedyTokens(out.logits, model.config.vocabSize);
  out.logits.dispose();
  return next.then((n) => ({ ids: n, state: out.state }));
}

async function decode(be: WebGpuBackend, model: MambaLM, B: number, tokens: number, depth: number): Promise<{ ms: number; recordMs: number }> {
  let state = model.initState(B);
  let ids: Tensor = be.upload(new Int32Array(B).fill(1), [B]);
  for (let k = 0; k < 3; k++) {
    ({ ids, state } = await step(model, ids, state));
    await ids.read();
  }
  let recordMs = 0;
  const t0 = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let k = 0; k < tokens; k++) {
    const r0 = performance.now();
    ({ ids, state } = await step(model, ids, state));
    recordMs += performance.now() - r0;
    inFlight.push(ids.read()); // submits the step with the copy of its ids
    if (inFlight.length > depth) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const ms = (performance.now() - t0) / tokens;
  disposeExcept([ids, state], undefined);
  return { ms, recordMs: recordMs / tokens };
}

async function main(): Promise<void> {
  const tokens = flag('--tokens', 64);
  const depth = flag('--depth', 4);
  const vendorIndex = process.argv.indexOf('--vendor');
  const vendor = vendorIndex >= 0 ? process.argv[vendorIndex + 1] : 'vendor-peer';
  const be = await createWebGpuBackend();
  try {
    console.log(`webgpu: ${be.info.adapterName}`);
    const config = preset('mamba2-130m');
    const model = new MambaLM(config, uploadWeights(randomWeights(config, 1), be), be);
    const rows: { B: number; mode: string; ms: number; recordMs: number }[] = [];
    for (const B of BATCHES) {
      for (const d of [0, depth]) {
        rows.push({ B, mode: d === 0 ? 'sync' : `pipelined ${d}`, ...(await decode(be, model, B, tokens, d)) });
      }
      let state = model.initState(B);
      const ids = be.upload(new Int32Array(B).fill(1), [B]);
      console.log(`GPU profile of one step, batch ${B}:\n${await profile(be, () => {
        const out = tidy(() => model.step(ids, state));
        out.logits.dispose();
        disposeExcept(state, out.state);
        state = out.state;
      })}`);
      disposeExcept([ids, state], undefined);
    }
    const peer = runPeer<Peer>('peer_mamba_ssm.py', ['--vendor', vendor, 'decode', ...BATCHES.flatMap((b) => ['--batch', String(b)]), '--tokens', String(tokens)]);
    if (typeof peer === 'string') console.log(`peer: ${peer}`);
    console.log('batch  loop        ms/step  host record ms/step    tok/s   mamba_ssm tok/s   webgpu/mamba_ssm');
    for (const r of rows) {
      const p = typeof peer === 'string' ? undefined : peer.decode.find((d) => d.batch === r.B)?.tok_s;
      const tokS = (r.B * 1000) / r.ms;
      console.log([
        String(r.B).padStart(5), r.mode.padEnd(10), r.ms.toFixed(3).padStart(9), r.recordMs.toFixed(3).padStart(20),
        tokS.toFixed(0).padStart(8), (p?.toFixed(0) ?? '-').padStart(17), ratio(tokS, p).padStart(18),
      ].join('  '));
    }
  } finally {
    be.destroy();
  }
}

await main();
