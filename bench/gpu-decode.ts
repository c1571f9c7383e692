/**
 * Decoding on WebGPU: Mamba-2 130M (mamba2-130m architecture, random weights), one token per step
 * for a batch of sequences, greedy, against mamba_ssm's Mamba-2 decode on the same GPU (fp32,
 * no CUDA graphs; see bench/peer_mamba_ssm.py). Two loops, both built as src/backend/index.ts
 * documents (tidy step, device argmax, ids read back):
 *   sync       reads each step's ids before recording the next (a streaming CLI's loop)
 *   pipelined  records and submits step k+1 before waiting for step k's ids (its input ids stay on
 *              the device), so the GPU never waits for a read-back and the host records while the
 *              GPU runs (a loop with a fixed token budget can do this)
 * Also printed: host milliseconds to record one step, and a per-kernel GPU profile of one step.
 *
 *   node dist/bench/gpu-decode.js [--tokens 64] [--vendor vendor-peer]
 */
import { disposeExcept, greedyTokens, tidy } from '../src/backend/index.js';
import { createWebGpuBackend, type WebGpuBackend } from '../src/backend/webgpu/index.js';
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

async function decode(be: WebGpuBackend, model: MambaLM, B: number, tokens: number, pipelined: boolean): Promise<{ ms: number; recordMs: number }> {
  let state = model.initState(B);
  let ids: Tensor = be.upload(new Int32Array(B).fill(1), [B]);
  for (let k = 0; k < 3; k++) {
    ({ ids, state } = await step(model, ids, state));
    await ids.read();
  }
  let recordMs = 0;
  const t0 = performance.now();
  let pending: Promise<unknown> | undefined;
  for (let k = 0; k < tokens; k++) {
    const r0 = performance.now();
    ({ ids, state } = await step(model, ids, state));
    recordMs += performance.now() - r0;
    if (pipelined) {
      be.flush();
      await pending;
      pending = ids.read(); // submits this step; its ids are awaited after the next is recorded
    } else {
      await ids.read();
    }
  }
  await pending;
  const ms = (performance.now() - t0) / tokens;
  disposeExcept([ids, state], undefined);
  return { ms, recordMs: recordMs / tokens };
}

async function main(): Promise<void> {
  const tokens = flag('--tokens', 64);
  const vendorIndex = process.argv.indexOf('--vendor');
  const vendor = vendorIndex >= 0 ? process.argv[vendorIndex + 1] : 'vendor-peer';
  const be = await createWebGpuBackend();
  try {
    console.log(`webgpu: ${be.info.adapterName}`);
    const config = preset('mamba2-130m');
    const model = new MambaLM(config, uploadWeights(randomWeights(config, 1), be), be);
    const rows: { B: number; mode: string; ms: number; recordMs: number }[] = [];
    for (const B of BATCHES) {
      for (const pipelined of [false, true]) {
        rows.push({ B, mode: pipelined ? 'pipelined' : 'sync', ...(await decode(be, model, B, tokens, pipelined)) });
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
