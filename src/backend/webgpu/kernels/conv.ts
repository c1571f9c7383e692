/**
 * Causal depthwise conv1d along L with a carried window (Mamba's short conv), one invocation per
 * output element; a second small kernel writes the next window.
 *   x [B, L, C], weight [C, K], bias [C]?, state [B, C, K-1]? -> y [B, L, C], state [B, C, K-1]
 * Input time t < 0 reads state[b, c, K-1+t]: the state holds the K-1 inputs before x, oldest first.
 */
import type { GpuTensor } from '../memory.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, flatId, header, type BufferDecl } from '../wgsl.js';
import { SCALAR_FNS } from './elementwise.js';

const WG = 256;
const cache = new Map<string, Kernel>();

/** WGSL expression for input x at time `t` (i32, may be negative) of channel c, sequence b. */
function inputAt(hasState: boolean): string {
  return `fn inputAt(b: u32, t: i32, c: u32) -> f32 {
  if (t >= 0) { return x[(b * p.L + u32(t)) * p.C + c]; }
  ${hasState ? 'return state[(b * p.C + c) * (p.K - 1u) + u32(i32(p.K) - 1 + t)];' : 'return 0.0;'}
}`;
}

function convKernel(hasBias: boolean, hasState: boolean, silu: boolean): Kernel {
  const key = `conv ${hasBias} ${hasState} ${silu}`;
  let k = cache.get(key);
  if (k) return k;
  const buffers: BufferDecl[] = [['x', 'read', 'f32'], ['w', 'read', 'f32']];
  if (hasBias) buffers.push(['bias', 'read', 'f32']);
  if (hasState) buffers.push(['state', 'read', 'f32']);
  buffers.push(['y', 'read_write', 'f32']);
  k = {
    label: key,
    source: `${header('n: u32, L: u32, C: u32, K: u32', buffers)}
${SCALAR_FNS}
${inputAt(hasState)}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
  let c = i % p.C;
  let l = (i / p.C) % p.L;
  let b = i / (p.C * p.L);
  var acc = ${hasBias ? 'bias[c]' : '0.0'};
  for (var k = 0u; k < p.K; k++) {
    acc = fma(w[c * p.K + k], inputAt(b, i32(l) - i32(p.K - 1u) + i32(k), c), acc);
  }
  y[i] = ${silu ? 'silu(acc)' : 'acc'};
}`,
  };
  cache.set(key, k);
  return k;
}

/** newState[b, c, j] = input at time L - (K-1) + j */
function stateKernel(hasState: boolean): Kernel {
  const key = `conv state ${hasState}`;
  let k = cache.get(key);
  if (k) return k;
  const buffers: BufferDecl[] = [['x', 'read', 'f32']];
  if (hasState) buffers.push(['state', 'read', 'f32']);
  buffers.push(['next', 'read_write', 'f32']);
  k = {
    label: key,
    source: `${header('n: u32, L: u32, C: u32, K: u32', buffers)}
${inputAt(hasState)}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
  let j = i % (p.K - 1u);
  let c = (i / (p.K - 1u)) % p.C;
  let b = i / ((p.K - 1u) * p.C);
  next[i] = inputAt(b, i32(p.L) - i32(p.K - 1u) + i32(j), c);
}`,
  };
  cache.set(key, k);
  return k;
}

export function causalConv1d(h: KernelHost, x: GpuTensor, weight: GpuTensor, bias: GpuTensor | undefined,
  state: GpuTensor | undefined, silu: boolean): { y: GpuTensor; state: GpuTensor } {
  const [B, L, C] = x.shape;
  const K = weight.shape[1];
  const params = (n: number) => [n, L, C, K];
  const y = h.empty([B, L, C]);
  const s = [storageOf(x), storageOf(weight)];
  if (bias) s.push(storageOf(bias));
  if (state) s.push(storageOf(state));
  h.rt.dispatch(convKernel(bias !== undefined, state !== undefined, silu), params(y.size), [...s, y.storage], grid(y.size, WG));
  const next = h.empty([B, C, K - 1]);
  if (next.size > 0) {
    const ss = [storageOf(x)];
    if (state) ss.push(storageOf(state));
    h.rt.dispatch(stateKernel(state !== undefined), params(next.size), [...ss, next.storage], grid(next.size, WG));
  }
  return { y, state: next };
}
