/** The sequence mixers of state space models (forward here; backward with autograd). */
import type { SelectiveScanArgs, SsdArgs } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';

/** x [B, L, C], weight [C, K], bias [C]?, state [B, C, K-1]? -> y [B, L, C], state [B, C, K-1] */
export function causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean): { y: Tensor; state: Tensor } {
  return x.backend.causalConv1d(x, weight, bias, state, silu);
}

/** Mamba-1 S6 scan -> y [B, L, D], state [B, D, N] */
export function selectiveScan(args: SelectiveScanArgs): { y: Tensor; state: Tensor } {
  return args.u.backend.selectiveScan(args);
}

/** Mamba-2 SSD, chunked -> y [B, L, H, P], state [B, H, P, N] */
export function ssdChunked(args: SsdArgs): { y: Tensor; state: Tensor } {
  return args.x.backend.ssdChunked(args);
}
