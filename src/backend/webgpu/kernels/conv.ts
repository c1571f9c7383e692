/**
 * Causal depthwise conv1d along L with a carried window (Mamba's short conv), one invocation per
 * output element; the invocations past the outputs copy the next window, so a decode step's conv
 * is one dispatch.
 *   x [B, L, C], weight [C, K], bias [C]?, state [B, C, K-1]? -> y [B, L, C], state [B, C, K-1]
 * Input time t < 0 reads state[b, c, K-1+t]: the state holds the K-1 inputs before x, oldest first.
 */
import type { GpuTensor } from '../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, flatId, header, type BufferDecl } from '../wgsl.js';
import { SCALAR_FNS } from './elementwise.js';

const WG = 256;
const cache = new Map<string, Kernel>();

/** WGSL expression for input x at time `t` (i32, may be negative) of channel c, sequence b. */
export function inputAt(hasState: boolean): string {
  return `fn inputAt(b: u32, t: i32, c: u32) -> f32 {
  if (t >= 0) { return x[(b * p.L + u32(t)) * p.C + c]; }
  ${hasState ? 'return state[(b * p.C + c) * (p.K - 1u) + u32(i32(p.K) - 1 + t)];' : 'return 0.0;'}
}`;
}

/** WGSL `preActivation(b, t, c)`: the conv's output at time t before the SiLU, bias included (after inputAt). */
export function preActivation(hasBias: boolean): string {
  return `fn preActivation(b: u32, t: u32, c: u32) -> f32 {
  var acc = ${hasBias ? 'bias[c]' : '0.0'};
  for (var k = 0u; k < p.K; k++) {
    acc = fma(w[c * p.K + k], inputAt(b, i32(t) - i32(p.K - 1u) + i32(k), c), acc);
  }
  return acc;
}`;
}

function convKernel(hasBias: boolean, hasState: boolean, silu: boolean): Kernel {
  const key = `conv ${hasBias} ${hasState} ${silu}`;
  let k = cache.get(key);
  if (k) return k;
  const buffers: BufferDecl[] = [['x', 'read', 'f32'], ['w', 'read', 'f32']];
  if (hasBias) buffers.push(['bias', 'read', 'f32']);
  if (hasState) buffers.push(['state', 'read', 'f32']);
  buffers.push(['y', 'read_write', 'f32'], ['next', 'read_write', 'f32']);
  k = {
    label: key,
    source: `${header('n: u32, nNext: u32, L: u32, C: u32, K: u32', buffers)}
${SCALAR_FNS}
${inputAt(hasState)}
${preActivation(hasBias)}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i < p.n) {
    let c = i % p.C;
    let acc = preActivation(i / (p.C * p.L), (i / p.C) % p.L, c);
    y[i] = ${silu ? 'silu(acc)' : 'acc'};
  } else if (i - p.n < p.nNext) {
    // next[b, c, j] = input at time L - (K-1) + j
    let o = i - p.n;
    let j = o % (p.K - 1u);
    let c = (o / (p.K - 1u)) % p.C;
    let b = o / ((p.K - 1u) * p.C);
    next[o] = inputAt(b, i32(p.L) - i32(p.K - 1u) + i32(j), c);
  }
}`,
  };
  cache.set(key, k);
  return k;
}

export function causalConv1d(h: KernelHost, x: GpuTensor, weight: GpuTensor, bias: GpuTensor | undefined,
  state: GpuTensor | undefined, silu: boolean): { y: GpuTensor; state: GpuTensor } {
  const [B, L, C] = x.shape;
  const K = weight.shape[1];
  const y = h.empty([B, L, C]);
  const next = h.empty([B, C, K - 1]);
  const s = [storageOf(x), storageOf(weight)];
  if (bias) s.push(storageOf(bias));
  if (state) s.push(storageOf(state));
  const n = y.size + next.size;
  h.rt.dispatch(convKernel(bias !== undefined, state !== undefined, silu), [y.size, next.size, L, C, K], [...s, y.storage, next.storage], grid(n, WG));
  return { y, state: next };
}
