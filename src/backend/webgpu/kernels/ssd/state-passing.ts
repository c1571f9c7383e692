/**
 * SSD stage 4, the one sequential stage: per (b, h, p, n), over the chunks in order, each
 * chunk's entry of `S` (its increment) is replaced by the carry entering it, and the carry moves
 * on as carry = exp(acum_last(c)) carry + increment:
 *   forward   S: the states entering each chunk; the carry out is the final state
 *   reverse   (the backward) U, the dS0 terms: the gradients of the states leaving each chunk;
 *             the carry out is the gradient of the initial state
 * -> the carry after the last chunk [B, H, P, N].
 */
import type { GpuStorage, GpuTensor } from '../../buffer-pool.js';
import { grid, type Kernel, type KernelHost } from '../../runtime.js';
import { cached, flatMain, header, type BufferDecl } from '../../wgsl.js';
import { FIELDS, WG, type SsdDims } from './fields.js';

function passKernel(init: boolean, reverse: boolean): Kernel {
  return cached(`ssd state passing ${init}${reverse ? ' reverse' : ''}`, () => {
    const buffers: BufferDecl[] = [['acum', 'read', 'f32']];
    if (init) buffers.push(['carry0', 'read', 'f32']);
    buffers.push(['S', 'read_write', 'f32'], ['carryOut', 'read_write', 'f32']);
    const chunk = (k: string) => (reverse ? `p.nC - 1u - (${k})` : k);
    return `${header(FIELDS, buffers)}
fn decay(ac: u32, c: u32) -> f32 {
  return exp(acum[ac + min(p.L, (c + 1u) * p.Q) - 1u]);
}

${flatMain(WG)}
  let n = i % p.N;
  let pp = (i / p.N) % p.P;
  let h = (i / (p.N * p.P)) % p.H;
  let b = i / (p.N * p.P * p.H);
  var s = ${init ? 'carry0[i]' : '0.0'};
  // chunk c's S at o0 + c·stride; four chunks' loads go out before the chain uses them
  let stride = p.H * p.P * p.N;
  let o0 = ((b * p.nC * p.H + h) * p.P + pp) * p.N + n;
  let ac = (b * p.H + h) * p.L;
  var k = 0u;
  for (; k + 4u <= p.nC; k += 4u) {
    var add: array<f32, 4>;
    for (var j = 0u; j < 4u; j++) { add[j] = S[o0 + (${chunk('k + j')}) * stride]; }
    for (var j = 0u; j < 4u; j++) {
      let c = ${chunk('k + j')};
      S[o0 + c * stride] = s;
      s = fma(decay(ac, c), s, add[j]);
    }
  }
  for (; k < p.nC; k++) {
    let c = ${chunk('k')};
    let add = S[o0 + c * stride];
    S[o0 + c * stride] = s;
    s = fma(decay(ac, c), s, add);
  }
  carryOut[i] = s;
}`;
  });
}

/** Passes `S` [B, nC, H, P, N] in place from `carry0` [B, H, P, N] (zeros when absent) and writes the last carry to `carryOut`. */
export function statePassing(h: KernelHost, acum: GpuTensor, carry0: GpuStorage | undefined, S: GpuTensor, carryOut: GpuTensor,
  reverse: boolean, d: SsdDims): void {
  const inputs = [acum.storage, ...(carry0 ? [carry0] : [])];
  h.rt.dispatch(passKernel(carry0 !== undefined, reverse), d.params(carryOut.size), [...inputs, S.storage, carryOut.storage], grid(carryOut.size, WG));
}
