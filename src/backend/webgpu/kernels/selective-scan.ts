/**
 * Mamba-1 selective scan (S6), fused: the state h[N] of each channel (b, d) stays in registers
 * while the kernel walks L, so it never touches global memory between steps:
 *   Δ = softplus(delta + deltaBias);  h = exp(Δ A[d]) h + Δ B_t u_t;  y = C_t·h + D u;  y *= silu(z)
 * A workgroup holds C channels of one sequence, R invocations per channel, each owning N/R of
 * the channel's states. It walks its steps in blocks of T:
 * - staging: the block's Δ (softplus applied), u, silu(z) of its channels and B_t, C_t (shared
 *   by every channel) go to shared memory, each transcendental computed once per element; the
 *   next block's global loads are issued before the current block is computed, so their latency
 *   hides behind it;
 * - steps: per step an invocation does only its states' exps and FMAs and leaves its partial
 *   C_t·h in shared memory (no cross-lane reduction per step);
 * - epilogue: the workgroup sums the partials, adds D u, gates, and writes the block's y rows
 *   coalesced.
 * Long sequences are split into K chunks of Lc steps walked in parallel, since h_t = ā_t h_(t−1)
 * + b_t composes linearly: chunk k ends in exp(A ΣΔ_k) h_enter + S_k, where S_k is its end state
 * from zero. Two dispatches of one kernel family:
 *   1. 'states' (chunks 0..K−2): S_k and ΣΔ_k, [B, K−1, D, N + 1]; reads Δ, u, B only;
 *   2. 'output' (every chunk): h_enter from the initial state and the earlier chunks' (S, ΣΔ)
 *      (k·N exps, a few KiB from L2), then the chunk's steps as above, y written; the last chunk
 *      writes the final state.
 * K = 1 is the single pass. The MUFU floor is N exps per (step, channel), (2K − 1)/K of it when
 * chunked; C and R trade occupancy against shared memory.
 *   u, delta, z [B, L, D], A [D, N], B/C [B, L, N], D/deltaBias [D], state [B, D, N]
 *   -> y [B, L, D], state [B, D, N]
 */
import type { SelectiveScanArgs } from '../../backend.js';
import type { GpuTensor } from '../buffer-pool.js';
import { storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { binary, unary } from './elementwise.js';
import { header, type BufferDecl } from '../wgsl.js';
import { SCALAR_FNS } from './elementwise.js';

/**
 * Channels per workgroup and invocations per channel, and optionally the chunk count K and the
 * steps per staged block T; `selectiveScan` picks what is not given, benchmarks compare.
 */
export interface ScanTuning {
  C: 16 | 32 | 64;
  R: 1 | 2 | 4;
  K?: number;
  T?: number;
}

interface Spec {
  N: number;
  T: number;
  C: number;
  R: number;
  /** 'states': a chunk's end state from zero and its ΣΔ; 'output': y and the final state */
  mode: 'states' | 'output';
  /** output only: the entering state comes from the earlier chunks' (S, ΣΔ) */
  chunked: boolean;
  D: boolean;
  z: boolean;
  bias: boolean;
  state: boolean;
  softplus: boolean;
}

const cache = new Map<string, Kernel>();
const LOG2E = Math.LOG2E;

/**
 * h and A[d, :] live in vec4 registers (N4 = ceil(N/4) of them, invocation j of a channel owning
 * those c ≡ j mod R), the loops over them unrolled in the generated source: a private array
 * indexed at run time would sit in local memory. Past N the lanes hold A = 0 and B = C = 0 (the
 * shared B_t, C_t are padded with zeros to a multiple of R vec4s), so they stay zero and add
 * nothing.
 */
function kernel(s: Spec): Kernel {
  const key = JSON.stringify(s);
  let k = cache.get(key);
  if (k) return k;
  const { N, T, C, R } = s;
  const out = s.mode === 'output';
  const WG = C * R;
  const PER = T / R; // staged elements of each array per invocation and block (T·C of them)
  const N4 = Math.ceil(N / 4);
  const mine = Math.ceil(N4 / R); // vec4 registers per invocation
  const NP = mine * R; // vec4 slots of B_t, C_t in shared memory, zero past N
  const buffers: BufferDecl[] = [['u', 'read', 'f32'], ['delta', 'read', 'f32'], ['A', 'read', 'f32'], ['Bm', 'read', 'f32']];
  if (out) buffers.push(['Cm', 'read', 'f32']);
  if (s.D) buffers.push(['Dskip', 'read', 'f32']);
  if (s.z) buffers.push(['z', 'read', 'f32']);
  if (s.bias) buffers.push(['deltaBias', 'read', 'f32']);
  if (s.state) buffers.push(['state0', 'read', 'f32']);
  if (out) {
    if (s.chunked) buffers.push(['S', 'read', 'f32']);
    buffers.push(['y', 'read_write', 'f32'], ['stateOut', 'read_write', 'f32']);
  } else {
    buffers.push(['S', 'read_write', 'f32']);
  }
  const regs = Array.from({ length: mine }, (_, i) => i);
  const qs = Array.from({ length: PER }, (_, q) => q);
  // vec4 c of the N values starting at `base`, zero past N (c may be a WGSL expression)
  const load = (buf: string, base: string, c: string) => `vec4<f32>(${[0, 1, 2, 3].map((j) =>
    `select(0.0, ${buf}[min(${base} + (${c}) * 4u + ${j}u, arrayLength(&${buf}) - 1u)], (${c}) * 4u + ${j}u < ${N}u)`).join(', ')})`;
  const comp = ['x', 'y', 'z', 'w'];
  const vc = (i: number) => `(part + ${i * R}u)`; // the vec4 index register i holds
  const stores = (buf: string, base: string) => regs.map((i) => [0, 1, 2, 3].map((j) =>
    `if (${vc(i)} * 4u + ${j}u < ${N}u) { ${buf}[${base} + ${vc(i)} * 4u + ${j}u] = h${i}.${comp[j]}; }`).join('\n      ')).join('\n      ');
  // where chunk j's (S[N], ΣΔ) for channel dd of sequence b start: one buffer, since a stage
  // takes at most 12 storage buffers
  const slot = (j: string) => `((b * (p.K - 1u) + ${j}) * p.D + dd) * ${N + 1}u`;
  // element e = lid + q·WG of a block: step e / C, channel d0 + e % C (clamped into range)
  const src = (q: number, t0: string) => `(b * p.L + min(${t0} + (lid + ${q * WG}u) / ${C}u, p.L - 1u)) * p.D + min(d0 + (lid + ${q * WG}u) % ${C}u, p.D - 1u)`;
  const fetch = (t0: string) => qs.map((q) => `nd${q} = delta[${src(q, t0)}]; nu${q} = u[${src(q, t0)}];${s.z ? ` nz${q} = z[${src(q, t0)}];` : ''}`).join('\n    ');
  const stash = qs.map((q) => {
    const e = `lid + ${q * WG}u`;
    const dt = `nd${q}${s.bias ? ` + deltaBias[min(d0 + (${e}) % ${C}u, p.D - 1u)]` : ''}`;
    return `sDt[${e}] = ${s.softplus ? `softplus(${dt})` : dt}; sU[${e}] = nu${q};${s.z ? ` sZ[${e}] = silu(nz${q});` : ''}`;
  }).join('\n    ');
  const stageBC = (t0: string) => `for (var e = lid; e < ${T * NP}u; e += ${WG}u) {
      let row = (b * p.L + min(${t0} + e / ${NP}u, p.L - 1u)) * ${N}u;
      sB[e] = ${load('Bm', 'row', `e % ${NP}u`)};${out ? `
      sC[e] = ${load('Cm', 'row', `e % ${NP}u`)};` : ''}
    }`;
  const step = (tt: string) => `{
        let si = (${tt}) * ${C}u + ch;
        let dt = sDt[si];
        let du = vec4<f32>(dt * sU[si]);
        let sb = (${tt}) * ${NP}u;
        ${regs.map((i) => `h${i} = fma(exp2(dt * a${i}), h${i}, du * sB[sb + ${vc(i)}]);`).join('\n        ')}
        ${out ? `sY[si * ${R}u + part] = ${regs.map((i) => `dot(h${i}, sC[sb + ${vc(i)}])`).join(' + ')};` : 'sdt += dt;'}
      }`;
  const partials = Array.from({ length: R }, (_, r) => `sY[e * ${R}u + ${r}u]`).join(' + ');
  const epilogue = out ? `workgroupBarrier();
    for (var q = 0u; q < ${PER}u; q++) {
      let e = lid + q * ${WG}u;
      let c = d0 + e % ${C}u;
      if (e / ${C}u < tn && c < p.D) {
        let v = ${partials}${s.D ? ' + Dskip[c] * sU[e]' : ''};
        y[(b * p.L + t0 + e / ${C}u) * p.D + c] = v${s.z ? ' * sZ[e]' : ''};
      }
    }` : '';
  const enter = out && s.chunked ? `
  for (var j = 0u; j < wid.z; j++) {
    let g = S[${slot('j')} + ${N}u];
    ${regs.map((i) => `h${i} = fma(exp2(g * a${i}), h${i}, ${load('S', slot('j'), vc(i))});`).join('\n    ')}
  }` : '';
  const finish = out
    ? `if (d < p.D && wid.z + 1u == p.K) {
    ${stores('stateOut', `(b * p.D + d) * ${N}u`)}
  }`
    : `if (d < p.D) {
    ${stores('S', slot('wid.z'))}
    if (part == 0u) { S[${slot('wid.z')} + ${N}u] = sdt; }
  }`;
  k = {
    label: `selectiveScan ${s.mode} N=${N} C=${C} R=${R} T=${T}${s.chunked ? ' chunked' : ''}`,
    source: `${header('L: u32, D: u32, Lc: u32, K: u32', buffers)}
${SCALAR_FNS}
var<workgroup> sB: array<vec4<f32>, ${T * NP}>;
${out ? `var<workgroup> sC: array<vec4<f32>, ${T * NP}>;` : ''}
var<workgroup> sDt: array<f32, ${T * C}>;
var<workgroup> sU: array<f32, ${T * C}>;
${s.z ? `var<workgroup> sZ: array<f32, ${T * C}>;` : ''}
${out ? `var<workgroup> sY: array<f32, ${T * C * R}>;` : ''}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  let ch = lid / ${R}u;
  let part = lid % ${R}u;
  let d0 = wid.x * ${C}u;
  let d = d0 + ch;
  // channels past D compute on D-1 and are never written
  let dd = min(d, p.D - 1u);
  // this workgroup's chunk of steps
  let kb = wid.z * p.Lc;
  let ke = min(p.L, kb + p.Lc);
  // exp(Δ A) as exp2(Δ · A log2 e): one MUFU instruction
  ${regs.map((i) => `let a${i} = ${load('A', `dd * ${N}u`, vc(i))} * ${LOG2E};`).join('\n  ')}
  ${regs.map((i) => `var h${i} = ${s.state ? load('state0', `(b * p.D + dd) * ${N}u`, vc(i)) : 'vec4<f32>(0.0)'};`).join('\n  ')}${enter}
  ${out ? '' : 'var sdt = 0.0;'}
  ${qs.map((q) => `var nd${q}: f32; var nu${q}: f32;${s.z ? ` var nz${q}: f32;` : ''}`).join('\n  ')}
  if (kb < ke) {
    ${fetch('kb')}
    ${stash}
    ${stageBC('kb')}
  }
  workgroupBarrier();
  for (var t0 = kb; t0 < ke; t0 += ${T}u) {
    let tn = min(${T}u, ke - t0);
    let more = t0 + ${T}u < ke;
    if (more) {
      ${fetch(`t0 + ${T}u`)}
    }
    var tt = 0u;
    for (; tt + 4u <= tn; tt += 4u) {
      ${[0, 1, 2, 3].map((j) => step(`tt + ${j}u`)).join('\n      ')}
    }
    for (; tt < tn; tt++) {
      ${step('tt')}
    }
    ${epilogue}
    workgroupBarrier();
    if (more) {
      ${stash}
      ${stageBC(`t0 + ${T}u`)}
    }
    workgroupBarrier();
  }
  ${finish}
}`,
  };
  cache.set(key, k);
  return k;
}

/** Channels and lanes per channel when the caller does not say: see bench/gpu-kernels.ts. */
const DEFAULT: ScanTuning = { C: 32, R: 4 };
/**
 * Channels (b, d) × chunks in flight that fill a large GPU: more chunks with shorter staged
 * blocks (K 16 at T 8) beat fewer with longer ones and the single pass (see bench/RESULTS.md).
 */
const IN_FLIGHT = 131072;
/**
 * Most steps per staged block. Shorter blocks take less workgroup storage, so more workgroups
 * stay resident, and the output pass ran fastest with T 8 (see bench/RESULTS.md).
 */
const MAX_T = 8;
/** the shortest chunk worth a second read of Δ, u, B */
const MIN_CHUNK = 128;

/** Chunks along L: a power of two that brings B·D·K channels to IN_FLIGHT, chunks of ≥ MIN_CHUNK steps. */
export function scanChunks(B: number, D: number, L: number): number {
  const want = 2 ** Math.ceil(Math.log2(Math.max(1, IN_FLIGHT / Math.max(1, B * D))));
  return Math.max(1, Math.min(want, Math.floor(L / MIN_CHUNK)));
}

/**
 * Steps per staged block: what fits the workgroup storage (B_t and C_t in vec4 slots padded to R;
 * Δ, u, z and the R partials per channel), at most MAX_T, a multiple of R.
 */
function blockSteps(h: KernelHost, N: number, C: number, R: number, out: boolean, z: boolean): number {
  const NP = Math.ceil(Math.ceil(N / 4) / R) * R;
  const perStep = out ? 32 * NP + 4 * C * (2 + (z ? 1 : 0) + R) : 16 * NP + 8 * C;
  const fit = Math.min(MAX_T, Math.floor(h.rt.info.maxComputeWorkgroupStorageSize / perStep));
  return Math.max(R, fit - (fit % R));
}

/**
 * Storage buffers the output pass binds: u, Δ, A, B, C, y, the final state, and those of D, z,
 * Δ bias, the initial state and the chunk carries that are present (at most 12).
 */
function outputBindings(args: SelectiveScanArgs, chunked: boolean): number {
  return 7 + [args.Dskip, args.z, args.deltaBias, args.state].filter((t) => t).length + (chunked ? 1 : 0);
}

/**
 * Browsers may offer fewer storage buffers a stage than the fused kernel binds (Chrome on
 * SwiftShader: 10; the WebGPU default is 8). Past the device's limit, the SiLU(z) gate runs as
 * its own kernels after the scan, then L is left unsplit.
 */
export function selectiveScan(h: KernelHost, args: SelectiveScanArgs, tuning = DEFAULT): { y: GpuTensor; state: GpuTensor } {
  const limit = h.rt.info.maxStorageBuffersPerShaderStage;
  const [B, L, D] = args.u.shape;
  const K = tuning.K ?? scanChunks(B, D, L);
  if (outputBindings(args, K > 1) <= limit) return fusedScan(h, args, tuning);
  if (args.z) {
    const { y, state } = selectiveScan(h, { ...args, z: undefined }, tuning);
    const gate = unary(h, 'silu', args.z as GpuTensor);
    const out = binary(h, 'mul', y, gate);
    y.dispose();
    gate.dispose();
    return { y: out, state };
  }
  if (K > 1) return selectiveScan(h, args, { ...tuning, K: 1 });
  throw new Error(`selectiveScan: needs ${outputBindings(args, false)} storage buffers per shader stage; this device allows ${limit}`);
}

function fusedScan(h: KernelHost, args: SelectiveScanArgs, tuning: ScanTuning): { y: GpuTensor; state: GpuTensor } {
  const u = args.u as GpuTensor;
  const [B, L, D] = u.shape;
  const N = args.A.shape[1];
  const { C, R } = tuning;
  const Lc = Math.max(1, Math.ceil(L / (tuning.K ?? scanChunks(B, D, L))));
  const K = Math.max(1, Math.ceil(L / Lc)); // no empty chunks
  const y = h.empty([B, L, D]);
  const state = h.empty([B, D, N]);
  if (B * D === 0) return { y, state };
  const z = args.z !== undefined;
  const steps = (out: boolean) => {
    const T = tuning.T ?? blockSteps(h, N, C, R, out, out && z);
    if (T % R !== 0 || T < R) throw new Error(`selectiveScan: T ${T} is not a positive multiple of R ${R}`);
    return T;
  };
  const common = { N, C, R, bias: args.deltaBias !== undefined, softplus: args.deltaSoftplus };
  const params = [L, D, Lc, K];
  const groups = (chunks: number) => [Math.ceil(D / C), B, chunks] as const;
  const st = (t: unknown) => storageOf(t as GpuTensor);
  const head = [u, args.delta, args.A, args.Bmat].map(st);
  // chunks 0..K−2: their end states from zero and ΣΔ
  const carry = K > 1 ? [h.empty([B, K - 1, D, N + 1])] : [];
  if (K > 1) {
    const spec: Spec = { ...common, T: steps(false), mode: 'states', chunked: false, D: false, z: false, state: false };
    const s = [...head];
    if (args.deltaBias) s.push(st(args.deltaBias));
    h.rt.dispatch(kernel(spec), params, [...s, ...carry.map((t) => t.storage)], groups(K - 1));
  }
  const spec: Spec = {
    ...common, T: steps(true), mode: 'output', chunked: K > 1,
    D: args.Dskip !== undefined, z, state: args.state !== undefined,
  };
  const s = [...head, st(args.Cmat)];
  for (const t of [args.Dskip, args.z, args.deltaBias, args.state]) if (t) s.push(st(t));
  h.rt.dispatch(kernel(spec), params, [...s, ...carry.map((t) => t.storage), y.storage, state.storage], groups(K));
  for (const t of carry) t.dispose();
  return { y, state };
}
