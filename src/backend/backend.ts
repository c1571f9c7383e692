import type { DType, HostArray, Tensor } from '../tensor.js';

/**
 * The one interface every compute backend implements (CPU reference, WebGPU). Models never call
 * a backend directly: they call the differentiable ops in `ops/`, which call these kernels.
 * docs/ops.md indexes every op: its CPU and WGSL kernels, its backward and its tests.
 *
 * Conventions
 * - Row-major, contiguous. Sequence activations are [B, L, C]; a "row" op treats all leading
 *   dimensions as rows, e.g. `linear` takes x [..., K] -> [..., N].
 * - Kernels return new tensors and never mutate their inputs, except where a name says so.
 * - Kernels are synchronous (a GPU backend enqueues work); only `read` waits for the device.
 * - Names and symbols as in the papers: B batch, L length, D (Mamba-1 channels, d_inner),
 *   N d_state, H heads, P head dim, G groups of B/C, K conv width.
 */
export interface Backend {
  readonly name: 'cpu' | 'webgpu';
  /** one line for logs: "cpu", "webgpu (adapter name)" */
  readonly description: string;
  /** whether the first use of each kernel compiles it (worth a notice before a long first step) */
  readonly compilesKernels: boolean;
  /** Frees what the backend holds outside the JS heap (a GPU device, so that Node can exit). Idempotent. */
  release(): void;

  // ---- memory -------------------------------------------------------------------------------
  /** Copies host data into a new tensor. */
  upload(data: HostArray, shape: readonly number[]): Tensor;
  /**
   * Uploads a long-lived parameter. Backends may place it where their fast kernels want it
   * (the CPU keeps weights in the shared WASM heap its matmul workers read; WebGPU outside the
   * transient buffer pool).
   */
  uploadWeight(data: Float32Array, shape: readonly number[]): Tensor;
  zeros(shape: readonly number[], dtype?: DType): Tensor;
  read(t: Tensor): Promise<HostArray>;
  /** Frees device memory now (no-op on the CPU). */
  dispose(t: Tensor): void;

  // ---- linear algebra -------------------------------------------------------------------------
  /** y = x W^T + b.  x [..., K], w [N, K], bias [N] -> [..., N]. The hot path of every model. */
  linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor;
  /** C = op(A) op(B) with op = transpose when asked. a [M, K] (or [K, M]), b [K, N] (or [N, K]). */
  matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor;
  /** rows of table [V, C] picked by ids (i32, any shape S) -> [...S, C]. */
  embedding(table: Tensor, ids: Tensor): Tensor;

  // ---- elementwise / shape ----------------------------------------------------------------------
  add(a: Tensor, b: Tensor): Tensor;
  mul(a: Tensor, b: Tensor): Tensor;
  silu(x: Tensor): Tensor;
  /** max(x, 0) */
  relu(x: Tensor): Tensor;
  /** x Φ(x), Φ the standard normal CDF (the erf GELU, not the tanh approximation) */
  gelu(x: Tensor): Tensor;
  /** log(1 + e^x), identity above the threshold 20 as in mamba_ssm / torch. */
  softplus(x: Tensor): Tensor;
  exp(x: Tensor): Tensor;
  /** Splits the last dimension into consecutive pieces: x [..., sum(sizes)] -> [..., sizes[i]]. */
  split(x: Tensor, sizes: readonly number[]): Tensor[];
  /** Concatenates along the last dimension. */
  concat(xs: readonly Tensor[]): Tensor;

  // ---- normalization / softmax ------------------------------------------------------------------
  /** x [..., C], weight [C] -> x / rms(x) * weight. */
  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor;
  /**
   * Mamba-2's gated RMSNorm, normalized per group of `groupSize` channels as mamba_ssm does.
   * normBeforeGate: rmsnorm(x) * silu(z); otherwise rmsnorm(x * silu(z)).  x, z [..., C], weight [C].
   */
  gatedRmsNorm(x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean): Tensor;
  softmax(x: Tensor): Tensor;
  logSoftmax(x: Tensor): Tensor;

  // ---- sequence mixing --------------------------------------------------------------------------
  /**
   * Causal depthwise conv along L with an optional carried window.
   * x [B, L, C], weight [C, K], bias [C]?, state [B, C, K-1]? (the last K-1 inputs before x;
   * zeros when absent) -> y [B, L, C] (SiLU applied when `silu`), newState [B, C, K-1].
   */
  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean): { y: Tensor; state: Tensor };

  /** Mamba-1 selective scan (S6), see `SelectiveScanArgs`. -> y [B, L, D], state [B, D, N]. */
  selectiveScan(args: SelectiveScanArgs): { y: Tensor; state: Tensor };

  /** Mamba-2 SSD by the chunked algorithm, see `SsdArgs`. -> y [B, L, H, P], state [B, H, P, N]. */
  ssdChunked(args: SsdArgs): { y: Tensor; state: Tensor };

  /**
   * Causal scaled-dot-product attention with grouped KV heads (Hq a multiple of Hkv).
   * q [B, Lq, Hq, E], k/v [B, S, Hkv, E]. Key j of sequence b is valid when j < kvLen[b];
   * query i of sequence b sits at position kvLen[b] - Lq + i and (if causal) sees keys j <= that.
   * kvLen defaults to S for every sequence. -> [B, Lq, Hq, E].
   */
  attention(q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }): Tensor;

  /**
   * Rotary position embedding on the first `rotaryDim` of the last dim of x [B, L, H, E];
   * position of token i of sequence b is pos0[b] + i. Non-interleaved (GPT-NeoX halves) unless
   * `interleaved`.
   */
  rotary(x: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor;

  /**
   * Writes src [B, Ls, ...] into dst [B, S, ...] at positions offset[b] .. offset[b]+Ls-1 along
   * dim 1, in place (the KV cache append). Returns dst.
   */
  writeAt(dst: Tensor, src: Tensor, offset: Int32Array): Tensor;

  // ---- decoding: fusions for one token, no gradient (layers call them only outside autograd) -----
  /**
   * residual + linear(norm(x), w, bias): a block's pre-norm with its in_proj, the gated RMSNorm's
   * normalization with out_proj and the residual add, the final norm with the head. `norm`, when
   * given, is RMSNorm over each group of `groupSize` channels of x (groupSize = K: the plain one).
   * x [..., K], w [N, K], bias [N]?, residual [..., N]? -> [..., N]
   */
  normLinear(x: Tensor, norm: RowNorm | undefined, w: Tensor, bias?: Tensor, residual?: Tensor): Tensor;
  /**
   * One token of a Mamba-2 mixer between in_proj and the gated norm, see `Mamba2StepArgs`
   * (conv width K >= 2).
   * Updates `ssm` in place; returns y [B, dSsm] (gated by silu(z), not normalized) and the new
   * conv window [B, convDim, K-1] (a new tensor: `conv` is left as it was).
   */
  mamba2Step(args: Mamba2StepArgs): { y: Tensor; conv: Tensor };

  // ---- reductions -------------------------------------------------------------------------------
  /**
   * logits [..., V] -> ids i32 [...]: per row, the index of the largest of the first `vocab`
   * (default V; the padded columns of an embedding are never chosen), the first on ties, NaN never
   * winning. Greedy decoding: the ids stay on the backend, where the next step's embedding reads them.
   */
  argmax(logits: Tensor, vocab?: number): Tensor;
  /**
   * xs (any shapes) -> [xs.length]: element i is the sum of xs[i]'s elements squared, for the
   * global gradient norm (torch's clip_grad_norm_), so that clipping reads back one small vector
   * per step instead of every gradient. The CPU accumulates in float64.
   */
  sumOfSquares(xs: readonly Tensor[]): Tensor;

  // ---- training -----------------------------------------------------------------------------------
  /**
   * One AdamW update of param with its moments m and v, in place on all three; see `AdamWStep`.
   * The caller marks param written (`markWritten`) so caches derived from it are dropped.
   */
  adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWStep): void;
}

/**
 * AdamW (Loshchilov & Hutter 2019) as torch.optim.AdamW computes it, per element:
 *   g = grad * gradScale
 *   param *= 1 - lr * weightDecay                      (decoupled weight decay)
 *   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g²
 *   param -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 * `step` counts updates from 1. `gradScale` (default 1) folds gradient clipping and the mean over
 * accumulated micro-batches into the update, so neither needs a pass of its own over the grads.
 */
export interface AdamWStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
  gradScale?: number;
}

/**
 * Mamba-1 selective scan (Gu & Dao, Alg. 2), fused as in mamba_ssm's selective_scan_fn:
 *   Δ = softplus(delta + deltaBias)  (softplus only when deltaSoftplus)
 *   h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t          (per channel d, state n)
 *   y_t = C_t · h_t + D u_t,  then y_t *= silu(z_t) when z is given.
 */
export interface SelectiveScanArgs {
  u: Tensor;            // [B, L, D]   input after conv + SiLU
  delta: Tensor;        // [B, L, D]   dt_proj(x) before bias and softplus
  A: Tensor;            // [D, N]      -exp(A_log)
  Bmat: Tensor;         // [B, L, N]   (input-dependent B)
  Cmat: Tensor;         // [B, L, N]   (input-dependent C)
  Dskip?: Tensor;       // [D]
  z?: Tensor;           // [B, L, D]   gate
  deltaBias?: Tensor;   // [D]
  deltaSoftplus: boolean;
  state?: Tensor;       // [B, D, N]   initial h (zeros when absent)
}

/**
 * Mamba-2 SSD (Dao & Gu, §6) with a scalar decay per head:
 *   Δ = clamp(softplus(dt + dtBias), dtLimit)   (softplus only when dtSoftplus)
 *   h_t = exp(Δ_t A_h) h_{t-1} + Δ_t x_t B_t^T      h [P, N] per head
 *   y_t = h_t C_t + D_h x_t
 * computed chunk by chunk (intra-chunk matmuls, chunk states, inter-chunk passing, state to
 * output) with `chunkSize`; any L (the last chunk may be short). Head h uses group
 * floor(h / (H / G)) of B and C.
 */
export interface SsdArgs {
  x: Tensor;            // [B, L, H, P]
  dt: Tensor;           // [B, L, H]   before bias and softplus
  A: Tensor;            // [H]         -exp(A_log)
  Bmat: Tensor;         // [B, L, G, N]
  Cmat: Tensor;         // [B, L, G, N]
  Dskip?: Tensor;       // [H] or [H, P]
  dtBias?: Tensor;      // [H]
  dtSoftplus: boolean;
  dtLimit: [number, number];
  chunkSize: number;
  state?: Tensor;       // [B, H, P, N] initial state (zeros when absent)
}

/** RMSNorm over groups of `groupSize` channels (the row length for the plain one), then * weight. */
export interface RowNorm {
  weight: Tensor;       // [K]
  eps: number;
  groupSize: number;
}

/**
 * One token of Mamba-2 as mamba_ssm's `Mamba2.step` runs it after in_proj, with
 * convDim = dSsm + 2 G N and dSsm = H P:
 *   z | xBC | dt = the last dSsm + convDim + H columns of `proj` (earlier columns are not read)
 *   xBC' = silu(causal conv of the window `conv` and xBC);  x | B | C = xBC'     (causal_conv1d_update)
 *   Δ = clamp(softplus(dt + dtBias), dtLimit);  h = exp(Δ A_h) h + Δ x B^T;  y = h C + D x
 *                                                                             (selective_state_update)
 *   y *= silu(z)   (the gate of RMSNormGated with norm_before_gate = False, before the norm)
 */
export interface Mamba2StepArgs {
  proj: Tensor;         // [B, W]        in_proj's output for this token
  convWeight: Tensor;   // [convDim, K]
  convBias?: Tensor;    // [convDim]
  conv: Tensor;         // [B, convDim, K-1] the K-1 inputs before this token, oldest first
  ssm: Tensor;          // [B, H, P, N]  updated in place
  A: Tensor;            // [H]           -exp(A_log)
  Dskip?: Tensor;       // [H] or [H, P]
  dtBias?: Tensor;      // [H]
  dtLimit: [number, number];
  nGroups: number;      // G
}

/**
 * What training needs beyond `Backend`: the backward of each op (given what the forward was given
 * and the gradient of its output, the gradients of its inputs) and the fused cross-entropy loss.
 * A separate interface so that a backend gains training without breaking inference (both the CPU
 * and WebGPU have it); `hasGradKernels` tells the autograd whether a backend does.
 */
export interface GradKernels {
  /** x [..., C] -> [C]: the sum over all rows (a bias's gradient). */
  sumRows(x: Tensor): Tensor;
  /** dy [...S, C], ids i32 [...S] -> dtable [V, C]: row i of dy added into row ids[i]. */
  embeddingBackward(dy: Tensor, ids: Tensor, V: number): Tensor;
  /** x the input of silu / softplus, dy [same] -> dx */
  siluBackward(x: Tensor, dy: Tensor): Tensor;
  softplusBackward(x: Tensor, dy: Tensor): Tensor;
  /** dy where x > 0, else 0 */
  reluBackward(x: Tensor, dy: Tensor): Tensor;
  /** dy (Φ(x) + x φ(x)) */
  geluBackward(x: Tensor, dy: Tensor): Tensor;
  /** x, dy [..., C], weight [C] -> dx [..., C], dweight [C] */
  rmsNormBackward(x: Tensor, weight: Tensor, eps: number, dy: Tensor): { dx: Tensor; dweight: Tensor };
  gatedRmsNormBackward(
    x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean, dy: Tensor,
  ): { dx: Tensor; dz: Tensor; dweight: Tensor };
  /** y the output of softmax (of logSoftmax when `log`), dy [same] -> dx */
  softmaxBackward(y: Tensor, dy: Tensor, log: boolean): Tensor;
  /**
   * Mean over rows whose target is not ignoreIndex of -log softmax(logits)[target], fused.
   * logits [..., V], targets i32 [...] -> loss [] (0 when every row is ignored) and, when
   * `withGrad`, dlogits [..., V] = ∂loss/∂logits = (softmax - onehot(target)) / count, 0 on
   * ignored rows: computed in the forward pass from the exponentials it takes anyway.
   */
  crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex: number, withGrad: boolean): { loss: Tensor; dlogits?: Tensor };
  /** x [...] times the one value of s [] (a gradient arriving at a scalar) */
  scaleBy(x: Tensor, s: Tensor): Tensor;
  /** dy [B, L, C], dstate [B, C, K-1] (of the returned state) -> gradients of x, weight, bias, state */
  causalConv1dBackward(
    x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean, dy: Tensor, dstate: Tensor,
  ): { dx: Tensor; dweight: Tensor; dbias: Tensor; dstate: Tensor };
  /** dy [B, L, D], dstate [B, D, N] (of the final state) -> gradients of every tensor in args */
  selectiveScanBackward(args: SelectiveScanArgs, dy: Tensor, dstate: Tensor): SelectiveScanGrads;
  /** dy [B, L, H, P], dstate [B, H, P, N] (of the final state) -> gradients of every tensor in args */
  ssdChunkedBackward(args: SsdArgs, dy: Tensor, dstate: Tensor): SsdGrads;
  /** dout [B, Lq, Hq, E] -> dq [B, Lq, Hq, E], dk, dv [B, S, Hkv, E] (zero past kvLen) */
  attentionBackward(
    q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }, dout: Tensor,
  ): { dq: Tensor; dk: Tensor; dv: Tensor };
  /** dy [B, L, H, E] -> dx: the inverse rotation (rotary is orthogonal) */
  rotaryBackward(dy: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor;
}

/** Gradients of selectiveScan's inputs; present exactly where the argument was. */
export interface SelectiveScanGrads {
  du: Tensor; ddelta: Tensor; dA: Tensor; dB: Tensor; dC: Tensor;
  dD?: Tensor; dz?: Tensor; ddeltaBias?: Tensor;
  dstate: Tensor;       // [B, D, N] of the initial state (zeros or not)
}

/** Gradients of ssdChunked's inputs; present exactly where the argument was (dD shaped as Dskip). */
export interface SsdGrads {
  dx: Tensor; ddt: Tensor; dA: Tensor; dB: Tensor; dC: Tensor;
  dD?: Tensor; ddtBias?: Tensor;
  dstate: Tensor;       // [B, H, P, N] of the initial state
}

export function hasGradKernels(be: Backend): be is Backend & GradKernels {
  return typeof (be as Partial<GradKernels>).ssdChunkedBackward === 'function';
}

/** The backend's training kernels, or a clear error for a backend that has none yet. */
export function gradKernels(be: Backend): Backend & GradKernels {
  if (!hasGradKernels(be)) throw new Error(`the ${be.name} backend has no backward kernels yet; train on the CPU`);
  return be;
}
