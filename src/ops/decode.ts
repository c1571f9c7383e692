/**
 * Fusions for decoding one token: the same values as the ops they fuse (see Backend.normLinear
 * and Backend.mamba2Step), with no gradient. Layers call them only outside autograd recording;
 * recorded, they fail rather than silently cut the graph.
 */
import { isRecording } from '../autograd/index.js';
import type { Mamba2StepArgs, RowNorm } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';

function notRecording(what: string): void {
  if (isRecording()) throw new Error(`${what} has no gradient: use the unfused ops while recording`);
}

/** residual + linear(norm(x), w, bias).  x [..., K], w [N, K] -> [..., N] */
export function normLinear(x: Tensor, norm: RowNorm | undefined, w: Tensor, bias?: Tensor, residual?: Tensor): Tensor {
  notRecording('normLinear');
  return x.backend.normLinear(x, norm, w, bias, residual);
}

/** One Mamba-2 token from in_proj's output to the gated y [B, dSsm]; `ssm` is updated in place. */
export function mamba2Step(args: Mamba2StepArgs): { y: Tensor; conv: Tensor } {
  notRecording('mamba2Step');
  return args.proj.backend.mamba2Step(args);
}
