/**
 * The argument checks of the Backend and GradKernels ops, written once for every backend: each
 * backend method calls `check.<op>` with its arguments before its kernel runs. A failure is one
 * line naming the backend and the op ("webgpu add: shapes [2] and [3] differ"), its message
 * built only then (the checks run on every dispatch of a decode step).
 */
import type { Mamba2StepArgs, RowNorm, SelectiveScanArgs, SsdArgs } from './backend.js';
import type { HostArray, Tensor } from '../tensor.js';

type AttentionOpts = { causal: boolean; scale: number; kvLen?: Int32Array };

export function expect(t: Tensor, ok: boolean, what: () => string): void {
  if (!ok) throw new Error(`${t.backend.name} ${what()}`);
}

export const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

export const last = (t: Tensor): number => t.shape[t.shape.length - 1];

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** x [..., K], w [N, K], bias [N]? */
function linear(what: string, x: Tensor, w: Tensor, bias?: Tensor): void {
  const [N, K] = w.shape;
  expect(x, w.shape.length === 2 && last(x) === K, () => `${what}: x [${x.shape}] and weight [${w.shape}] do not match`);
  expect(x, !bias || same(bias.shape, [N]), () => `${what}: bias [${bias?.shape}] is not [${N}]`);
}

/** `dy` has the shape of `like` (a gradient of it) */
function grad(what: string, dy: Tensor, like: Tensor): void {
  expect(dy, same(dy.shape, like.shape), () => `${what}: gradient [${dy.shape}] for [${like.shape}]`);
}

function conv(what: string, x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined): void {
  const [B, , C] = x.shape;
  const K = weight.shape[1];
  expect(x, x.shape.length === 3 && same(weight.shape, [C, K]) && K >= 1, () => `${what}: x [${x.shape}], weight [${weight.shape}]`);
  expect(x, !bias || same(bias.shape, [C]), () => `${what}: bias [${bias?.shape}] is not [${C}]`);
  expect(x, !state || same(state.shape, [B, C, K - 1]), () => `${what}: state [${state?.shape}] is not [${B}, ${C}, ${K - 1}]`);
}

function selectiveScan(what: string, a: SelectiveScanArgs): void {
  const [B, L, D] = a.u.shape;
  const N = a.A.shape[1];
  expect(a.u, a.u.shape.length === 3 && same(a.delta.shape, [B, L, D]) && same(a.A.shape, [D, N]),
    () => `${what}: u [${a.u.shape}], delta [${a.delta.shape}], A [${a.A.shape}]`);
  expect(a.u, same(a.Bmat.shape, [B, L, N]) && same(a.Cmat.shape, [B, L, N]), () => `${what}: B [${a.Bmat.shape}] / C [${a.Cmat.shape}] are not [${B}, ${L}, ${N}]`);
  expect(a.u, !a.z || same(a.z.shape, [B, L, D]), () => `${what}: z [${a.z?.shape}]`);
  expect(a.u, !a.Dskip || same(a.Dskip.shape, [D]), () => `${what}: D [${a.Dskip?.shape}]`);
  expect(a.u, !a.deltaBias || same(a.deltaBias.shape, [D]), () => `${what}: deltaBias [${a.deltaBias?.shape}]`);
  expect(a.u, !a.state || same(a.state.shape, [B, D, N]), () => `${what}: state [${a.state?.shape}] is not [${B}, ${D}, ${N}]`);
}

function ssd(what: string, a: SsdArgs): void {
  const [B, L, H, P] = a.x.shape;
  const [, , G, N] = a.Bmat.shape;
  expect(a.x, a.x.shape.length === 4 && same(a.dt.shape, [B, L, H]) && same(a.A.shape, [H]),
    () => `${what}: x [${a.x.shape}], dt [${a.dt.shape}], A [${a.A.shape}]`);
  expect(a.x, a.Bmat.shape.length === 4 && same(a.Bmat.shape, [B, L, G, N]) && same(a.Cmat.shape, [B, L, G, N]) && G > 0 && H % G === 0,
    () => `${what}: B [${a.Bmat.shape}] / C [${a.Cmat.shape}] for ${H} heads`);
  expect(a.x, !a.Dskip || same(a.Dskip.shape, [H]) || same(a.Dskip.shape, [H, P]), () => `${what}: D [${a.Dskip?.shape}]`);
  expect(a.x, !a.dtBias || same(a.dtBias.shape, [H]), () => `${what}: dtBias [${a.dtBias?.shape}]`);
  expect(a.x, !a.state || same(a.state.shape, [B, H, P, N]), () => `${what}: state [${a.state?.shape}] is not [${B}, ${H}, ${P}, ${N}]`);
  expect(a.x, Number.isInteger(a.chunkSize) && a.chunkSize > 0, () => `${what}: chunkSize ${a.chunkSize}`);
}

function attention(what: string, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOpts): void {
  const [B, , Hq, E] = q.shape;
  const [, S, Hkv] = k.shape;
  expect(q, q.shape.length === 4 && same(k.shape, [B, S, Hkv, E]) && same(v.shape, k.shape) && Hkv > 0 && Hq % Hkv === 0,
    () => `${what}: q [${q.shape}], k [${k.shape}], v [${v.shape}]`);
  const kvLen = opts.kvLen;
  expect(q, !kvLen || (kvLen.length === B && kvLen.every((n) => n >= 0 && n <= S)), () => `${what}: kvLen [${kvLen}] must hold ${B} counts in 0..${S}`);
}

function rotary(what: string, x: Tensor, pos0: Int32Array, rotaryDim: number): void {
  expect(x, x.shape.length === 4 && pos0.length === x.shape[0], () => `${what}: x [${x.shape}] with ${pos0.length} start positions`);
  expect(x, rotaryDim % 2 === 0 && rotaryDim <= x.shape[3], () => `${what}: rotaryDim ${rotaryDim} for head dim ${x.shape[3]}`);
}

function rmsGroups(what: string, x: Tensor, weight: Tensor, groupSize: number): void {
  expect(x, same(weight.shape, [last(x)]) && groupSize > 0 && last(x) % groupSize === 0,
    () => `${what}: weight [${weight.shape}], group size ${groupSize} for x [${x.shape}]`);
}

/** One check per op, named and called as the op; see Backend and GradKernels for the shapes. */
export const check = {
  upload(what: 'upload' | 'uploadWeight', data: HostArray, shape: readonly number[]): void {
    if (data.length !== sizeOf(shape)) throw new Error(`${what}: ${data.length} values for shape [${shape}]`);
  },
  linear(x: Tensor, w: Tensor, bias?: Tensor): void {
    linear('linear', x, w, bias);
  },
  matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean): void {
    expect(a, a.shape.length === 2 && b.shape.length === 2, () => `matmul: needs 2-D operands, got [${a.shape}] and [${b.shape}]`);
    const K = transA ? a.shape[0] : a.shape[1];
    const Kb = transB ? b.shape[1] : b.shape[0];
    expect(a, K === Kb, () => `matmul: inner dimensions differ (${K} vs ${Kb})`);
  },
  embedding(table: Tensor, ids: Tensor): void {
    expect(table, table.shape.length === 2 && ids.dtype === 'i32', () => `embedding: needs table [V, C] and i32 ids, got [${table.shape}] and ${ids.dtype}`);
  },
  elementwise(what: 'add' | 'mul', a: Tensor, b: Tensor): void {
    expect(a, same(a.shape, b.shape), () => `${what}: shapes [${a.shape}] and [${b.shape}] differ`);
  },
  split(x: Tensor, sizes: readonly number[]): void {
    expect(x, sizes.reduce((a, b) => a + b, 0) === last(x), () => `split: sizes ${sizes} do not add up to ${last(x)}`);
  },
  concat(xs: readonly Tensor[]): void {
    if (xs.length === 0) throw new Error('concat: nothing to concatenate');
    const lead = xs[0].shape.slice(0, -1);
    for (const t of xs) {
      expect(t, same(t.shape.slice(0, -1), lead) && t.dtype === xs[0].dtype, () => `concat: [${t.shape}] does not match [${xs[0].shape}]`);
    }
  },
  rmsNorm(x: Tensor, weight: Tensor): void {
    rmsGroups('rmsNorm', x, weight, last(x));
  },
  gatedRmsNorm(x: Tensor, z: Tensor, weight: Tensor, groupSize: number): void {
    expect(x, same(x.shape, z.shape), () => `gatedRmsNorm: x [${x.shape}] and z [${z.shape}] differ`);
    rmsGroups('gatedRmsNorm', x, weight, groupSize);
  },
  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined): void {
    conv('causalConv1d', x, weight, bias, state);
  },
  selectiveScan(a: SelectiveScanArgs): void {
    selectiveScan('selectiveScan', a);
  },
  ssdChunked(a: SsdArgs): void {
    ssd('ssdChunked', a);
  },
  attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOpts): void {
    attention('attention', q, k, v, opts);
  },
  rotary(x: Tensor, pos0: Int32Array, rotaryDim: number): void {
    rotary('rotary', x, pos0, rotaryDim);
  },
  writeAt(dst: Tensor, src: Tensor, offset: Int32Array): void {
    const [B, Ls] = src.shape;
    const S = dst.shape[1];
    expect(dst, dst.shape[0] === B && same(dst.shape.slice(2), src.shape.slice(2)) && dst.dtype === src.dtype,
      () => `writeAt: src [${src.shape}] does not fit dst [${dst.shape}]`);
    expect(dst, offset.length === B && offset.every((o) => o >= 0 && o + Ls <= S), () => `writeAt: offsets [${offset}] + ${Ls} reach outside ${S} positions`);
  },
  normLinear(x: Tensor, norm: RowNorm | undefined, w: Tensor, bias?: Tensor, residual?: Tensor): void {
    linear('normLinear', x, w, bias);
    const outShape = [...x.shape.slice(0, -1), w.shape[0]];
    expect(x, !residual || same(residual.shape, outShape), () => `normLinear: residual [${residual?.shape}] is not [${outShape}]`);
    if (norm) rmsGroups('normLinear', x, norm.weight, norm.groupSize);
  },
  mamba2Step(a: Mamba2StepArgs): void {
    const [B, H, P, N] = a.ssm.shape;
    const G = a.nGroups;
    const [C, K] = a.convWeight.shape;
    const used = H * P + C + H;
    expect(a.ssm, a.ssm.shape.length === 4 && G > 0 && H % G === 0 && C === H * P + 2 * G * N && a.convWeight.shape.length === 2,
      () => `mamba2Step: conv weight [${a.convWeight.shape}] and state [${a.ssm.shape}] with ${G} groups do not match`);
    expect(a.ssm, a.proj.shape.length === 2 && a.proj.shape[0] === B && a.proj.shape[1] >= used, () => `mamba2Step: proj [${a.proj.shape}] needs ${B} rows of at least ${used}`);
    expect(a.ssm, K >= 2 && same(a.conv.shape, [B, C, K - 1]) && (!a.convBias || same(a.convBias.shape, [C])),
      () => `mamba2Step: conv window [${a.conv.shape}], bias [${a.convBias?.shape}]`);
    expect(a.ssm, same(a.A.shape, [H]) && (!a.dtBias || same(a.dtBias.shape, [H])), () => `mamba2Step: A [${a.A.shape}], dtBias [${a.dtBias?.shape}]`);
    expect(a.ssm, !a.Dskip || same(a.Dskip.shape, [H]) || same(a.Dskip.shape, [H, P]), () => `mamba2Step: D [${a.Dskip?.shape}]`);
  },
  adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor): void {
    for (const [name, t] of [['grad', grad], ['m', m], ['v', v]] as const) {
      expect(param, same(t.shape, param.shape), () => `adamw: ${name} [${t.shape}] is not param's [${param.shape}]`);
    }
  },
  argmax(logits: Tensor, vocab: number): void {
    expect(logits, logits.dtype === 'f32' && logits.shape.length >= 1, () => `argmax: needs f32 logits, got ${logits.dtype} [${logits.shape}]`);
    expect(logits, Number.isInteger(vocab) && vocab >= 1 && vocab <= last(logits), () => `argmax: vocab ${vocab} for rows of ${last(logits)}`);
  },

  // ---- GradKernels ----------------------------------------------------------------------------
  embeddingBackward(dy: Tensor, ids: Tensor): void {
    expect(dy, ids.dtype === 'i32' && same(dy.shape, [...ids.shape, last(dy)]), () => `embeddingBackward: dy [${dy.shape}] for ids [${ids.shape}] (${ids.dtype})`);
  },
  grad(what: 'siluBackward' | 'softplusBackward' | 'reluBackward' | 'geluBackward' | 'softmaxBackward', dy: Tensor, like: Tensor): void {
    grad(what, dy, like);
  },
  rmsNormBackward(x: Tensor, weight: Tensor, dy: Tensor): void {
    rmsGroups('rmsNormBackward', x, weight, last(x));
    grad('rmsNormBackward', dy, x);
  },
  gatedRmsNormBackward(x: Tensor, z: Tensor, weight: Tensor, groupSize: number, dy: Tensor): void {
    expect(x, same(z.shape, x.shape), () => `gatedRmsNormBackward: x [${x.shape}] and z [${z.shape}] differ`);
    rmsGroups('gatedRmsNormBackward', x, weight, groupSize);
    grad('gatedRmsNormBackward', dy, x);
  },
  crossEntropy(logits: Tensor, targets: Tensor): void {
    expect(logits, targets.dtype === 'i32' && same(targets.shape, logits.shape.slice(0, -1)),
      () => `crossEntropy: targets [${targets.shape}] (${targets.dtype}) for logits [${logits.shape}]`);
  },
  scaleBy(x: Tensor, s: Tensor): void {
    expect(x, s.size === 1, () => `scaleBy: the scale has shape [${s.shape}], expected one element`);
  },
  causalConv1dBackward(x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, dy: Tensor, dstate: Tensor): void {
    const what = 'causalConv1dBackward';
    conv(what, x, weight, bias, state);
    const [B, , C] = x.shape;
    const K = weight.shape[1];
    expect(x, same(dstate.shape, [B, C, K - 1]), () => `${what}: dstate [${dstate.shape}] is not [${B}, ${C}, ${K - 1}]`);
    grad(what, dy, x);
  },
  selectiveScanBackward(a: SelectiveScanArgs, dy: Tensor, dstate: Tensor): void {
    const what = 'selectiveScanBackward';
    selectiveScan(what, a);
    const [B, , D] = a.u.shape;
    const N = a.A.shape[1];
    expect(a.u, same(dstate.shape, [B, D, N]), () => `${what}: dstate [${dstate.shape}] is not [${B}, ${D}, ${N}]`);
    grad(what, dy, a.u);
  },
  ssdChunkedBackward(a: SsdArgs, dy: Tensor, dstate: Tensor): void {
    const what = 'ssdChunkedBackward';
    ssd(what, a);
    const [B, , H, P] = a.x.shape;
    const N = a.Bmat.shape[3];
    expect(a.x, same(dstate.shape, [B, H, P, N]), () => `${what}: dstate [${dstate.shape}] is not [${B}, ${H}, ${P}, ${N}]`);
    grad(what, dy, a.x);
  },
  attentionBackward(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOpts, dout: Tensor): void {
    attention('attentionBackward', q, k, v, opts);
    grad('attentionBackward', dout, q);
  },
  rotaryBackward(dy: Tensor, pos0: Int32Array, rotaryDim: number): void {
    rotary('rotaryBackward', dy, pos0, rotaryDim);
  },
};
