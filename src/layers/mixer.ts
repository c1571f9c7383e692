import * as ops from '../ops/index.js';
import { isRecording } from '../autograd/index.js';
import { tidy } from '../backend/scope.js';
import { storageVersion, type Tensor } from '../tensor.js';
import type { AttentionState } from './attention.js';
import type { Mamba1State } from './mamba1.js';
import type { Mamba2State } from './mamba2.js';
import type { MlpState } from './mlp.js';
import type { RmsNorm } from './rms-norm.js';

export type MixerState = Mamba1State | Mamba2State | AttentionState | MlpState;

/**
 * A sequence mixer (or an MLP in its slot): `forward` runs whole sequences in parallel, `step`
 * one token per sequence; both start from a state and return the final state, so they can be
 * chained in any split.
 * The input state is consumed: an attention layer appends to its KV cache in place.
 */
export interface Mixer<S extends MixerState = MixerState> {
  /** x [B, L, d] -> y [B, L, d] */
  forward(x: Tensor, state?: S): { y: Tensor; state: S };
  /** x [B, d] -> y [B, d] */
  step(x: Tensor, state: S): { y: Tensor; state: S };
  /**
   * A block's whole token step, h [B, d] -> h + step(norm(h)), for a mixer that fuses the norm
   * and the residual add into its own kernels when decoding (absent: the block composes them).
   */
  stepResidual?(h: Tensor, norm: RmsNorm, state: S): { y: Tensor; state: S };
  /** zeros for `batch` sequences; `maxLen` sizes a KV cache */
  initState(batch: number, maxLen: number): S;
}

/** The one-token path is the sequence path with L = 1: the kernels carry the state either way. */
export function stepAsForward<S extends MixerState>(m: Mixer<S>, x: Tensor, state: S): { y: Tensor; state: S } {
  const [B, d] = x.shape;
  const out = m.forward(x.reshape([B, 1, d]), state);
  return { y: out.y.reshape([B, d]), state: out.state };
}

/** h + step(norm(h)) from the unfused pieces. */
export function composedStepResidual<S extends MixerState>(m: Mixer<S>, h: Tensor, norm: RmsNorm, state: S): { y: Tensor; state: S } {
  const out = m.step(norm.forward(h), state);
  return { y: ops.add(h, out.y), state: out.state };
}

export function expectState<K extends MixerState['kind']>(state: MixerState, kind: K): asserts state is Extract<MixerState, { kind: K }> {
  if (state.kind !== kind) throw new Error(`a ${kind} layer got a ${state.kind} state`);
}

/** A per A_log storage, valid while A_log's version is unchanged and A is not released. */
const decayCache = new WeakMap<object, { version: number; A: Tensor }>();

/**
 * -exp(A_log): A < 0 makes every exp(ΔA) a decay. Built from ops so autograd reaches A_log while
 * recording; otherwise cached, since decoding would spend as many exps on A as on the scan itself.
 * Mixers make it when they are built, outside any `tidy` scope, so that it outlives the tidy
 * steps of a decode loop; one made inside a scope is released with it and made again next time.
 */
export function negExp(aLog: Tensor): Tensor {
  if (isRecording()) return minusExp(aLog);
  const version = storageVersion(aLog);
  const hit = decayCache.get(aLog.storage as object);
  if (hit && hit.version === version && !hit.A.disposed) return hit.A;
  if (hit && !hit.A.disposed) hit.A.dispose(); // made before A_log's last update
  const A = tidy(() => minusExp(aLog)); // its intermediates released even outside any scope
  decayCache.set(aLog.storage as object, { version, A });
  return A;
}

/** Makes the cached A now (a mixer's constructor calls it); nothing while recording. */
export function cacheNegExp(aLog: Tensor): void {
  if (!isRecording()) negExp(aLog);
}

function minusExp(aLog: Tensor): Tensor {
  const minusOne = aLog.backend.upload(new Float32Array(aLog.size).fill(-1), aLog.shape);
  return ops.mul(ops.exp(aLog), minusOne);
}
