/**
 * The sequence mixers of state space models with their backward. Every input gets a gradient,
 * the initial state included; the returned final state takes a gradient too (zeros when the loss
 * does not read it), so chained calls differentiate as one long call.
 */
import type { SelectiveScanArgs, SsdArgs } from '../backend/backend.js';
import { gradKernels } from '../backend/backend.js';
import { tapeFor } from '../autograd/tape.js';
import type { Tensor } from '../tensor.js';

/** x [B, L, C], weight [C, K], bias [C]?, state [B, C, K-1]? -> y [B, L, C], state [B, C, K-1] */
export function causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean): { y: Tensor; state: Tensor } {
  const out = x.backend.causalConv1d(x, weight, bias, state, silu);
  tapeFor(x, weight, bias, state)?.record([x, weight, bias, state], [out.y, out.state], ([dy, dstate]) => {
    const g = gradKernels(x.backend).causalConv1dBackward(x, weight, bias, state, silu, dy, dstate);
    return [g.dx, g.dweight, g.dbias, g.dstate];
  });
  return out;
}

/** Mamba-1 S6 scan -> y [B, L, D], state [B, D, N]; the backward recomputes the states. */
export function selectiveScan(args: SelectiveScanArgs): { y: Tensor; state: Tensor } {
  const out = args.u.backend.selectiveScan(args);
  const { u, delta, A, Bmat, Cmat, Dskip, z, deltaBias, state } = args;
  tapeFor(u, delta, A, Bmat, Cmat, Dskip, z, deltaBias, state)?.record([u, delta, A, Bmat, Cmat, Dskip, z, deltaBias, state], [out.y, out.state], ([dy, dstate]) => {
    const g = gradKernels(u.backend).selectiveScanBackward(args, dy, dstate);
    return [g.du, g.ddelta, g.dA, g.dB, g.dC, g.dD, g.dz, g.ddeltaBias, g.dstate];
  });
  return out;
}

/** Mamba-2 SSD, chunked -> y [B, L, H, P], state [B, H, P, N]; the backward goes chunk by chunk. */
export function ssdChunked(args: SsdArgs): { y: Tensor; state: Tensor } {
  const out = args.x.backend.ssdChunked(args);
  const { x, dt, A, Bmat, Cmat, Dskip, dtBias, state } = args;
  tapeFor(x, dt, A, Bmat, Cmat, Dskip, dtBias, state)?.record([x, dt, A, Bmat, Cmat, Dskip, dtBias, state], [out.y, out.state], ([dy, dstate]) => {
    const g = gradKernels(x.backend).ssdChunkedBackward(args, dy, dstate);
    return [g.dx, g.ddt, g.dA, g.dB, g.dC, g.dD, g.ddtBias, g.dstate];
  });
  return out;
}
