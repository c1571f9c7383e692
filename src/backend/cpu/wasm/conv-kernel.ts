/**
 * Causal depthwise conv1d of one sequence with a carried window, as a WebAssembly SIMD kernel
 * (the driver is ../conv.ts): four channels per vector, so that the SiLU after it is vectorised
 * too. y[t, c] = bias[c] + Σ_k w[c, k] · in[t - (K-1) + k, c], where `in` is the K-1 inputs of
 * the state followed by x.
 *
 * Operand layout (byte addresses, f32; Cp = C rounded up to a multiple of 4, W = K - 1):
 *   xw     [W + L, Cp]  rows W.. hold x (the driver's copy); the kernel fills rows 0..W-1 from
 *                       the state, so that every tap is a plain vector load
 *   y      [L, Cp]
 *   state  [Cp, W]      read first, then overwritten with the last W rows of xw
 *   w      [Cp, K]      bias [Cp]
 * The state and w are channel-major, as the tensors are: four channels' values are gathered
 * and scattered lane by lane (W + K gathers per group of four channels in a decode step).
 * flags: SILU applies silu to y.
 */
import { encodeModule, FuncBuilder, I32, I32_ADD, I32_AND, I32_MUL, I32_SUB, type Local, SIMD, V128 } from './encoder.js';
import { repeat, whileBelow } from './emit.js';
import { VMath } from './vmath.js';

export const SILU = 1;

/** parameters of `causal_conv1d`, in order */
export const CONV_PARAMS = ['xw', 'y', 'state', 'w', 'bias', 'L', 'Cp', 'K', 'flags'] as const;

function convKernel(): FuncBuilder {
  const f = new FuncBuilder(CONV_PARAMS.length);
  const [xw, y, state, w, bias, L, Cp, K, flags] = f.params;
  const i32 = () => f.local(I32);
  const rowBytes = i32(), wStride = i32(), sStride = i32(), W = i32(), col = i32(), k = i32(), src = i32(), dst = i32(), at = i32();
  const x = i32(), yRow = i32();
  const v = f.local(V128), acc = f.local(V128);
  const vm = new VMath(f);
  const mulAdd = () => f.simd(SIMD.F32X4_MUL).simd(SIMD.F32X4_ADD);
  /** v = [m[p], m[p + stride], m[p + 2 stride], m[p + 3 stride]] */
  const gather = (p: Local, stride: Local) => {
    f.get(p).load32Splat().set(v);
    f.get(p).set(at);
    for (let lane = 1; lane < 4; lane++) f.get(at).get(stride).op(I32_ADD).tee(at).get(v).load32Lane(lane).set(v);
  };
  /** the inverse of gather */
  const scatter = (p: Local, stride: Local) => {
    f.get(p).get(v).store32Lane(0);
    f.get(p).set(at);
    for (let lane = 1; lane < 4; lane++) f.get(at).get(stride).op(I32_ADD).tee(at).get(v).store32Lane(lane);
  };
  /** for each group of four channels (col = its byte offset in a row of Cp), for k < W */
  const overWindow = (body: () => void) => {
    f.i32(0).set(col);
    whileBelow(f, col, rowBytes, () => {
      f.get(state).get(col).get(W).op(I32_MUL).op(I32_ADD).set(src);
      f.get(W).set(k);
      repeat(f, k, body);
      f.addTo(col, 16);
    });
  };

  f.get(Cp).i32(4).op(I32_MUL).set(rowBytes);
  f.get(K).i32(-1).op(I32_ADD).set(W);
  f.get(K).i32(4).op(I32_MUL).set(wStride);
  f.get(W).i32(4).op(I32_MUL).set(sStride);

  // the state into rows 0..W-1 of xw: src walks one channel's window, dst down the rows
  overWindow(() => {
    gather(src, sStride);
    f.get(W).get(k).op(I32_SUB).get(rowBytes).op(I32_MUL).get(xw).op(I32_ADD).get(col).op(I32_ADD).get(v).v128Store();
    f.addTo(src, 4);
  });

  f.get(xw).set(x);
  f.get(y).set(yRow);
  repeat(f, L, () => {
    f.i32(0).set(col);
    whileBelow(f, col, rowBytes, () => {
      f.get(bias).get(col).op(I32_ADD).v128Load().set(acc);
      f.get(w).get(col).get(K).op(I32_MUL).op(I32_ADD).set(src);
      f.get(x).get(col).op(I32_ADD).set(dst);
      f.get(K).set(k);
      repeat(f, k, () => {
        gather(src, wStride);
        f.get(acc).get(v).get(dst).v128Load(); mulAdd(); f.set(acc);
        f.addTo(src, 4);
        f.get(dst).get(rowBytes).op(I32_ADD).set(dst);
      });
      f.get(flags).i32(SILU).op(I32_AND).if(() => vm.silu(acc, acc));
      f.get(yRow).get(col).op(I32_ADD).get(acc).v128Store();
      f.addTo(col, 16);
    });
    f.get(x).get(rowBytes).op(I32_ADD).set(x);
    f.get(yRow).get(rowBytes).op(I32_ADD).set(yRow);
  });

  // the last W rows of xw (rows L..L+W-1; x now points at row L) back into the state
  overWindow(() => {
    f.get(W).get(k).op(I32_SUB).get(rowBytes).op(I32_MUL).get(x).op(I32_ADD).get(col).op(I32_ADD).v128Load().set(v);
    scatter(src, sStride);
    f.addTo(src, 4);
  });
  return f;
}

export function buildConvModule(maxPages: number): Uint8Array {
  return encodeModule([{ name: 'causal_conv1d', nParams: CONV_PARAMS.length, body: convKernel() }], maxPages);
}
