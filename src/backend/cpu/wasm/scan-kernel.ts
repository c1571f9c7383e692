/**
 * The Mamba-1 selective scan of one sequence as a WebAssembly SIMD kernel (the driver is
 * ../selective-scan.ts, which stages the operands in the shared heap). Per time step t and
 * channel d, with n over the state:
 *   Δ = softplus(delta[t, d] + bias[d]),  h[d, n] = e^(Δ A[d, n]) h[d, n] + Δ B[t, n] u[t, d],
 *   y[t, d] = (Σ_n C[t, n] h[d, n] + Dskip[d] u[t, d]) · silu(z[t, d]).
 *
 * Vectorised two ways at once: four channels' Δ, u, z, y are one vector (softplus, gate and skip
 * cost one vector op per four channels), and each channel's state row is walked four n at a time
 * (e^(ΔA) is the cost that matters: D·N of them per token). The four channels' sums over n are
 * folded into one vector by a transpose-add. h stays in place, updated row by row: the
 * (L, D, N) states never exist.
 *
 * Operand layout (byte addresses, f32; Dp = D and Np = N rounded up to multiples of 4, padding
 * zeroed by the driver, so that padded lanes compute finite values that are never read back and
 * padded n add C = 0 to the sums):
 *   u, delta, z, y  [L, Dp]       bc  [L, Np/4, 2, 4]: per t, B[n..n+4) then C[n..n+4)
 *   A, h            [Dp, Np]      dskip, bias  [Dp]
 * flags: SOFTPLUS applies softplus to delta + bias, GATE multiplies by silu(z) (z is not read
 * without it).
 */
import { encodeModule, FuncBuilder, I32, I32_ADD, I32_AND, I32_MUL, type Local, SIMD, V128 } from './encoder.js';
import { repeat, transposeAdd, whileBelow } from './emit.js';
import { VMath } from './vmath.js';

export const SOFTPLUS = 1;
export const GATE = 2;

/** parameters of `selective_scan`, in order */
export const SCAN_PARAMS = ['u', 'delta', 'z', 'y', 'bc', 'A', 'h', 'dskip', 'bias', 'L', 'Dp', 'Np', 'flags'] as const;

function scanKernel(): FuncBuilder {
  const f = new FuncBuilder(SCAN_PARAMS.length);
  const [u, delta, z, y, bc, A, h, dskip, bias, L, Dp, Np, flags] = f.params;
  const i32 = () => f.local(I32), v128 = () => f.local(V128);
  const rowBytes = i32(), stateBytes = i32(), col = i32(), pa = i32(), ph = i32(), pbc = i32(), end = i32();
  const dt = v128(), x = v128(), dtx = v128(), sdt = v128(), sdtx = v128(), va = v128(), out = v128();
  const t01 = v128(), t23 = v128();
  const acc: Local[] = Array.from({ length: 4 }, v128);
  const vm = new VMath(f);
  const load = (base: Local) => f.get(base).get(col).op(I32_ADD).v128Load();
  const mul = () => f.simd(SIMD.F32X4_MUL);
  const add = () => f.simd(SIMD.F32X4_ADD);
  const ifFlag = (flag: number, body: () => void) => f.get(flags).i32(flag).op(I32_AND).if(body);
  f.get(Dp).i32(4).op(I32_MUL).set(rowBytes);
  f.get(Np).i32(4).op(I32_MUL).set(stateBytes);

  repeat(f, L, () => {
    f.get(A).set(pa);
    f.get(h).set(ph);
    f.i32(0).set(col);
    // four channels d..d+3 at byte offset col of the [Dp] rows
    whileBelow(f, col, rowBytes, () => {
      load(delta); load(bias); add(); f.set(dt);
      ifFlag(SOFTPLUS, () => vm.softplus(dt, dt));
      load(u).set(x);
      f.get(dt).get(x); mul(); f.set(dtx);
      for (let j = 0; j < 4; j++) {
        f.get(dt).get(dt).shuffle32([j, j, j, j]).set(sdt);
        f.get(dtx).get(dtx).shuffle32([j, j, j, j]).set(sdtx);
        f.v128Zero().set(acc[j]);
        f.get(bc).set(pbc);
        f.get(pa).get(stateBytes).op(I32_ADD).set(end);
        // channel d + j: its state row, four n at a time
        whileBelow(f, pa, end, () => {
          f.get(sdt).get(pa).v128Load(); mul(); f.set(va);
          vm.exp(va, va);
          f.get(ph).get(va).get(ph).v128Load(); mul();
          f.get(sdtx).get(pbc).v128Load(); mul(); add();
          f.tee(va).v128Store();
          f.get(acc[j]).get(pbc).v128Load(16).get(va); mul(); add(); f.set(acc[j]);
          f.addTo(pa, 16).addTo(ph, 16).addTo(pbc, 32);
        });
      }
      transposeAdd(f, acc, t01, t23, out);
      f.get(out); load(dskip); f.get(x); mul(); add(); f.set(out);
      ifFlag(GATE, () => {
        load(z).set(x);
        vm.silu(x, x);
        f.get(out).get(x); mul(); f.set(out);
      });
      f.get(y).get(col).op(I32_ADD).get(out).v128Store();
      f.addTo(col, 16);
    });
    for (const p of [u, delta, z, y]) f.get(p).get(rowBytes).op(I32_ADD).set(p);
    f.get(bc).get(stateBytes).i32(2).op(I32_MUL).op(I32_ADD).set(bc);
  });
  return f;
}

export function buildScanModule(maxPages: number): Uint8Array {
  return encodeModule([{ name: 'selective_scan', nParams: SCAN_PARAMS.length, body: scanKernel() }], maxPages);
}
