/**
 * WebGPU sequence-mixing kernels against the limits and peers of the same GPU, in one run:
 * - copy bandwidth: a WGSL copy kernel and torch's device-to-device copy (bytes read + written);
 * - Mamba-1 selective scan (B 8, D 1536, L 2048, N 16) against the HBM roofline: the bytes it must
 *   move (u, Δ, z read, y written, B and C read once) at the best copy bandwidth; every tuning
 *   (channels per workgroup, lanes per channel, chunks along L, steps per staged block) is timed,
 *   by the wall clock and by GPU timestamps per dispatch; forward + backward too (no peer:
 *   mamba_ssm's scan is a CUDA extension that its copied folder does not build);
 * - Mamba-2 SSD (B 8, L 2048, H 24, P 64, N 128, chunk 256) against mamba_ssm's Triton
 *   mamba_chunk_scan_combined (fp32 inputs; Triton's dots may run in TF32 there), forward and
 *   forward + backward (every input's gradient on both sides);
 * - causal attention, prefill and one decode step (no peer);
 * then a per-kernel GPU profile of the scan and the SSD.
 *
 *   node dist/bench/gpu-kernels.js [--reps 5] [--scale 1] [--vendor vendor-peer] [--ieee] [--only scan,ssd,attention]
 *   (--scale < 1 shrinks L for a smoke run; --vendor: the copy of mamba_ssm/ for the peer; --ieee
 *   also times the Triton SSD with TRITON_F32_DEFAULT=ieee, i.e. without TF32; --only runs just
 *   those parts, the copy bandwidth always)
 */
import { createWebGpuBackend, type WebGpuBackend } from '../src/backend/webgpu/backend.js';
import { scanChunks, selectiveScan, type ScanTuning } from '../src/backend/webgpu/kernels/selective-scan.js';
import { Tensor } from '../src/tensor.js';
import { flag, profile, random, ratio, runPeer, timeGpu } from './gpu-util.js';

const SCAN_TUNINGS: ScanTuning[] = [
  { C: 32, R: 4, K: 1, T: 32 }, { C: 32, R: 4, K: 8, T: 32 }, { C: 32, R: 4, K: 1, T: 8 }, { C: 32, R: 4, K: 4, T: 8 },
  { C: 32, R: 4, K: 8, T: 8 }, { C: 32, R: 4, K: 16, T: 8 }, { C: 32, R: 4, K: 32, T: 8 }, { C: 32, R: 4, K: 8, T: 16 },
  { C: 32, R: 4, K: 16, T: 4 }, { C: 32, R: 4, K: 32, T: 4 }, { C: 64, R: 4, K: 16, T: 8 }, { C: 16, R: 4, K: 16, T: 8 },
  { C: 32, R: 2, K: 16, T: 8 }, { C: 64, R: 1, K: 16, T: 8 },
];

const vendorIndex = process.argv.indexOf('--vendor');
const vendor = vendorIndex >= 0 ? process.argv[vendorIndex + 1] : 'vendor-peer';
const onlyIndex = process.argv.indexOf('--only');
const PARTS = ['scan', 'ssd', 'attention'];
const only = onlyIndex >= 0 ? (process.argv[onlyIndex + 1] ?? '').split(',') : PARTS;
const unknown = only.filter((o) => !PARTS.includes(o));
if (unknown.length) {
  console.error(`gpu-kernels: --only takes a comma-separated list of ${PARTS.join(', ')}; got ${unknown.join(', ')}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const reps = flag('--reps', 5);
  const scale = flag('--scale', 1);
  const be: WebGpuBackend = await createWebGpuBackend();
  const u = (shape: number[], seed: number, lo = -1, hi = 1) => be.upload(random(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape);
  const drop = (ts: Tensor[]) => ts.forEach((t) => t.dispose());
  try {
    console.log(`webgpu: ${be.info.adapterName} (subgroups ${be.info.subgroups}, ${be.info.subgroupMinSize}-${be.info.subgroupMaxSize} lanes)`);

    // ---- copy bandwidth ----------------------------------------------------------------------
    const copyMiB = Math.min(1024, Math.floor(be.info.maxStorageBufferBindingSize / 2 ** 21));
    const src = u([copyMiB * 2 ** 18], 99);
    const copyMs = await timeGpu(be, reps * 4, () => drop(be.split(src, [src.size])));
    src.dispose();
    const ourCopy = (2 * copyMiB * 2 ** 20) / copyMs / 1e6;
    const torchCopy = runPeer<{ GBps: number }>('peer_mamba_ssm.py', ['--vendor', vendor, 'copy', '--mib', String(copyMiB)]);
    const torchGBps = typeof torchCopy === 'string' ? undefined : torchCopy.GBps;
    const bandwidth = Math.max(ourCopy, torchGBps ?? 0);
    console.log(`copy ${copyMiB} MiB: webgpu kernel ${ourCopy.toFixed(0)} GB/s, torch ${torchGBps?.toFixed(0) ?? `- (${torchCopy})`} GB/s (read + write)`);

    // ---- Mamba-1 selective scan vs the roofline --------------------------------------------------
    if (only.includes('scan')) {
      const [B, L, D, N] = [8, Math.round(2048 * scale), 1536, 16];
      const args = {
        u: u([B, L, D], 1), delta: u([B, L, D], 2, -4, 0), A: u([D, N], 3, -2, -0.1), Bmat: u([B, L, N], 4), Cmat: u([B, L, N], 5),
        Dskip: u([D], 6), z: u([B, L, D], 7), deltaBias: u([D], 8, -1, 0), deltaSoftplus: true,
      };
      const bytes = 4 * (4 * B * L * D + 2 * B * L * N + B * D * N + D * N + 2 * D);
      const floorMs = bytes / bandwidth / 1e6;
      console.log(`selectiveScan B${B} L${L} D${D} N${N}: ${(bytes / 2 ** 20).toFixed(0)} MiB to move, roofline ${floorMs.toFixed(3)} ms at ${bandwidth.toFixed(0)} GB/s`);
      // wall ms per call over 4·reps calls in one submission, and the GPU timestamps of one call
      const measure = async (label: string, call: () => void) => {
        const wall = await timeGpu(be, reps * 4, call);
        be.rt.startProfile();
        call();
        const rows = await be.rt.stopProfile();
        const gpu = rows.reduce((a, r) => a + r.ms, 0);
        const parts = rows.map((r) => `${r.label.split(' ')[1]} ${r.ms.toFixed(3)}`).join(' + ');
        console.log(`  ${label.padEnd(22)} ${wall.toFixed(3)} ms wall ${((100 * floorMs) / wall).toFixed(0).padStart(3)}% of roofline; GPU ${gpu.toFixed(3)} ms (${parts}) ${((100 * floorMs) / gpu).toFixed(0)}%`);
        return wall;
      };
      const one = () => { const o = be.selectiveScan(args); drop([o.y, o.state]); };
      const ms = await measure(`default (K ${scanChunks(B, D, L)})`, one);
      for (const t of SCAN_TUNINGS) {
        await measure(`C ${t.C} R ${t.R} K ${t.K ?? '-'} T ${t.T ?? '-'}`, () => { const o = selectiveScan(be, args, t); drop([o.y, o.state]); });
      }
      const dy = u([B, L, D], 9);
      const dstate = be.zeros([B, D, N]);
      const fwdBwd = () => {
        const o = be.selectiveScan(args);
        drop([o.y, o.state]);
        drop(Object.values(be.selectiveScanBackward(args, dy, dstate)).filter((v): v is Tensor => v instanceof Tensor));
      };
      const fbMs = await timeGpu(be, reps, fwdBwd);
      console.log(`  forward + backward ${fbMs.toFixed(3)} ms (${(fbMs / ms).toFixed(1)}x the forward)`);
      console.log(`GPU profile of one scan:\n${await profile(be, one)}`);
      console.log(`GPU profile of one scan forward + backward:\n${await profile(be, fwdBwd)}`);
      drop([dy, dstate]);
      drop(Object.values(args).filter((v) => v instanceof Tensor) as Tensor[]);
    }

    // ---- Mamba-2 SSD vs mamba_ssm Triton -------------------------------------------------------------
    if (only.includes('ssd')) {
      const [B, L, H, P, N, Q] = [8, Math.round(2048 * scale), 24, 64, 128, 256];
      const args = {
        x: u([B, L, H, P], 11), dt: u([B, L, H], 12, -4, 0), A: u([H], 13, -2, -0.1), Bmat: u([B, L, 1, N], 14), Cmat: u([B, L, 1, N], 15),
        Dskip: u([H], 16), dtBias: u([H], 17, -1, 0), dtSoftplus: true, dtLimit: [0, Infinity] as [number, number], chunkSize: Q,
      };
      const one = () => { const o = be.ssdChunked(args); drop([o.y, o.state]); };
      const ms = await timeGpu(be, reps, one);
      const dy = u([B, L, H, P], 18);
      const dstate = be.zeros([B, H, P, N]);
      const fwdBwd = () => {
        const o = be.ssdChunked(args);
        drop([o.y, o.state]);
        drop(Object.values(be.ssdChunkedBackward(args, dy, dstate)).filter((v): v is Tensor => v instanceof Tensor));
      };
      const fbMs = await timeGpu(be, reps, fwdBwd);
      const peer = runPeer<{ ms: number; fwd_bwd_ms: number; triton: string }>('peer_mamba_ssm.py', ['--vendor', vendor, 'ssd', '--shape', ...[B, L, H, P, N, Q].map(String)]);
      const pms = typeof peer === 'string' ? undefined : peer.ms;
      console.log(`ssdChunked B${B} L${L} H${H} P${P} N${N} chunk ${Q}: webgpu ${ms.toFixed(3)} ms, mamba_ssm Triton ${pms?.toFixed(3) ?? `- (${peer})`} ms: webgpu takes ${ratio(ms, pms)}x its time`);
      const pfb = typeof peer === 'string' ? undefined : peer.fwd_bwd_ms;
      console.log(`  forward + backward: webgpu ${fbMs.toFixed(3)} ms, mamba_ssm Triton ${pfb?.toFixed(3) ?? '-'} ms: webgpu takes ${ratio(fbMs, pfb)}x its time`);
      if (process.argv.includes('--ieee')) {
        // Triton's tl.dot takes fp32 inputs as TF32 unless told otherwise; TRITON_F32_DEFAULT=ieee
        // makes the same kernels multiply in full fp32, as ours do. Off by default: on the H200
        // (Triton 3.6) this peer gave no answer within 200 s, twice (autotuning every config anew).
        const ieee = runPeer<{ ms: number; fwd_bwd_ms: number }>('peer_mamba_ssm.py',
          ['--vendor', vendor, 'ssd', '--shape', ...[B, L, H, P, N, Q].map(String)], { TRITON_F32_DEFAULT: 'ieee' }, 150);
        const [ims, ifb] = typeof ieee === 'string' ? [undefined, undefined] : [ieee.ms, ieee.fwd_bwd_ms];
        console.log(`  Triton with TRITON_F32_DEFAULT=ieee (fp32 dots, no TF32): forward ${ims?.toFixed(3) ?? `- (${ieee})`} ms (webgpu takes ${ratio(ms, ims)}x), `
          + `forward + backward ${ifb?.toFixed(3) ?? '-'} ms (webgpu takes ${ratio(fbMs, ifb)}x)`);
      }
      console.log(`GPU profile of one SSD:\n${await profile(be, one)}`);
      console.log(`GPU profile of one SSD forward + backward:\n${await profile(be, fwdBwd)}`);
      drop([dy, dstate]);
      drop(Object.values(args).filter((v) => v instanceof Tensor) as Tensor[]);
    }

    // ---- attention (no peer) -------------------------------------------------------------------------
    if (only.includes('attention')) {
      const [B, L, H, E] = [8, Math.round(2048 * scale), 24, 64];
      const q = u([B, L, H, E], 21), k = u([B, L, H, E], 22), v = u([B, L, H, E], 23), q1 = u([B, 1, H, E], 24);
      const pre = await timeGpu(be, reps, () => be.attention(q, k, v, { causal: true, scale: 1 / 8 }).dispose());
      const dec = await timeGpu(be, reps * 10, () => be.attention(q1, k, v, { causal: true, scale: 1 / 8 }).dispose());
      console.log(`attention B${B} L${L} H${H} E${E} causal: prefill ${pre.toFixed(3)} ms, one decode step ${dec.toFixed(3)} ms`);
      drop([q, k, v, q1]);
    }
  } finally {
    be.destroy();
  }
}

await main();
