/**
 * Training on WebGPU: Mamba-2 130M (mamba2-130m architecture, random weights), batch 8 × 1024
 * tokens, against mamba_ssm's fp32 training step on the same GPU (bench/peer_mamba_ssm.py train).
 * A step is what `train()` does (src/train/trainer.ts), with the project's own pieces:
 *
 *   tidy(valueAndGrad(crossEntropy(model.forward(ids).logits, targets)))   forward + backward
 *   [globalGradNorm -> clipScale]                                           clipping (the "clip" rows)
 *   tidy(AdamW.update(grads, lr, scale))                                    AdamW, in place
 *   loss read back                                                          (the trainer reads it every step)
 *
 * Steps are timed end to end after `--warmup` steps (pipelines compiled, pool filled); the peer
 * times its step the same way (CUDA events around whole steps, loss.item() each step).
 * Two variants on both sides: without gradient clipping and with clipping at 1.0 as train() does it.
 * Ends with a per-kernel GPU profile of one step (without clipping).
 *
 *   node dist/bench/gpu-train.js [--batch 8] [--seq-len 1024] [--steps 5] [--warmup 2] [--vendor vendor-peer]
 *   smoke run on a software GPU: --layers 1 --vocab 256 --batch 1 --seq-len 64 --steps 1 --warmup 1 --no-peer
 */
import { valueAndGrad } from '../src/autograd/index.js';
import { createWebGpuBackend } from '../src/backend/webgpu/backend.js';
import { MambaLM } from '../src/model/lm.js';
import { preset, randomWeights } from '../src/model/presets.js';
import { uploadWeights } from '../src/model/weights.js';
import * as ops from '../src/ops/index.js';
import { IGNORE } from '../src/tasks/task.js';
import { AdamW } from '../src/train/adamw.js';
import { clipScale, globalGradNorm } from '../src/train/clip.js';
import { flag, profile, ratio, runPeer } from './gpu-util.js';

interface PeerStep { ms: number; tok_s: number; loss: number }
interface Peer { device: string; torch: string; triton: string; causal_conv1d: string; params: number; noclip: PeerStep; clip: PeerStep }

async function main(): Promise<void> {
  const B = flag('--batch', 8), L = flag('--seq-len', 1024), steps = flag('--steps', 5), warmup = flag('--warmup', 2);
  const vendorIndex = process.argv.indexOf('--vendor');
  const vendor = vendorIndex >= 0 ? process.argv[vendorIndex + 1] : 'vendor-peer';
  const config = preset('mamba2-130m');
  const layers = flag('--layers', config.layers.length);
  config.layers = config.layers.slice(0, layers);
  config.vocabSize = flag('--vocab', config.vocabSize);

  const be = await createWebGpuBackend();
  try {
    console.log(`webgpu: ${be.info.adapterName}`);
    const model = new MambaLM(config, uploadWeights(randomWeights(config, 1), be), be);
    const params = model.parameters();
    console.log(`mamba2-130m architecture, ${layers} layers, vocab ${config.vocabSize}: ${(model.paramCount() / 1e6).toFixed(1)}M parameters; batch ${B} × ${L} tokens, fp32, AdamW`);
    const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    // seeded token ids; the targets are the ids shifted by one (the last position ignored)
    let s = 12345;
    const idsHost = new Int32Array(B * L).map(() => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return (s >>> 8) % config.vocabSize;
    });
    const targetsHost = new Int32Array(B * L).fill(IGNORE);
    for (let b = 0; b < B; b++) for (let l = 0; l + 1 < L; l++) targetsHost[b * L + l] = idsHost[b * L + l + 1];
    const ids = be.upload(idsHost, [B, L]);
    const targets = be.upload(targetsHost, [B, L]);
    const lr = 1e-3;

    const lossAndGrads = () => be.tidy(() => valueAndGrad(() => ops.crossEntropy(model.forward(ids).logits, targets, IGNORE), params));
    const step = async (clip: boolean): Promise<number> => {
      const { loss, grads } = lossAndGrads();
      let value: number;
      if (clip) {
        // as train() does: the loss and the norm come back together, then the update is recorded
        const [l, norm] = await Promise.all([loss.read(), globalGradNorm([...grads.values()], be)]);
        value = l[0];
        be.tidy(() => opt.update(grads, lr, clipScale(norm, 1)));
      } else {
        be.tidy(() => opt.update(grads, lr, 1));
        value = (await loss.read())[0];
      }
      for (const g of grads.values()) g.dispose();
      loss.dispose();
      return value;
    };
    const timeSteps = async (clip: boolean): Promise<{ ms: number; loss: number }> => {
      for (let k = 0; k < warmup; k++) await step(clip);
      const t0 = performance.now();
      let loss = NaN;
      for (let k = 0; k < steps; k++) loss = await step(clip);
      return { ms: (performance.now() - t0) / steps, loss };
    };

    const noclip = await timeSteps(false);
    const clip = await timeSteps(true);
    const prof = await profile(be, () => {
      const { loss, grads } = lossAndGrads();
      be.tidy(() => opt.update(grads, lr, 1));
      for (const g of grads.values()) g.dispose();
      loss.dispose();
    });

    const peer = process.argv.includes('--no-peer')
      ? 'not run (--no-peer)'
      : runPeer<Peer>('peer_mamba_ssm.py', ['--vendor', vendor, 'train', '--batch', String(B), '--seq-len', String(L),
        '--steps', String(steps), '--warmup', String(warmup), '--layers', String(layers), '--vocab', String(config.vocabSize)]);
    if (typeof peer === 'string') console.log(`peer: ${peer}`);
    else {
      console.log(`peer: mamba_ssm (vendored) on ${peer.device}, torch ${peer.torch}, triton ${peer.triton}, ${(peer.params / 1e6).toFixed(1)}M parameters; causal_conv1d: ${peer.causal_conv1d}`);
    }
    console.log('step                       webgpu ms/step   tok/s    mamba_ssm ms/step   tok/s   webgpu/mamba_ssm tok/s   loss (webgpu, mamba_ssm)');
    for (const [name, r, p] of [
      ['fwd + bwd + AdamW', noclip, typeof peer === 'string' ? undefined : peer.noclip],
      ['  + clip at 1.0 (train())', clip, typeof peer === 'string' ? undefined : peer.clip],
    ] as const) {
      const tokS = (B * L * 1000) / r.ms;
      console.log([
        name.padEnd(26), r.ms.toFixed(1).padStart(15), tokS.toFixed(0).padStart(8), (p?.ms.toFixed(1) ?? '-').padStart(19),
        (p?.tok_s.toFixed(0) ?? '-').padStart(7), ratio(tokS, p?.tok_s).padStart(24), `   ${r.loss.toFixed(3)}, ${p?.loss.toFixed(3) ?? '-'}`,
      ].join(' '));
    }
    console.log(`GPU profile of one step (no clipping):\n${prof}`);
  } finally {
    be.destroy();
  }
}

await main();
