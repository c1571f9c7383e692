/**
 * Control flow and lane shuffles that every generated kernel uses (GEMM and SSM kernels alike),
 * written once on top of the encoder.
 */
import { I32_ADD, I32_EQZ, I32_GE_U, I32_LT_U, type FuncBuilder, type Local, SIMD } from './encoder.js';

/** `while (ptr < end) { body }` for an i32 byte pointer that body advances. */
export function whileBelow(f: FuncBuilder, ptr: Local, end: Local, body: () => void): void {
  f.block(() => {
    f.get(ptr).get(end).op(I32_GE_U).brIf(0);
    f.loop(() => {
      body();
      f.get(ptr).get(end).op(I32_LT_U).brIf(0);
    });
  });
}

/** `for (n = count; n > 0; n--) { body }` on an i32 local holding the count. */
export function repeat(f: FuncBuilder, counter: Local, body: () => void): void {
  f.block(() => {
    f.get(counter).op(I32_EQZ).brIf(0);
    f.loop(() => {
      body();
      f.get(counter).i32(-1).op(I32_ADD).tee(counter).brIf(0);
    });
  });
}

/**
 * local out = [Σ s0, Σ s1, Σ s2, Σ s3], the lane sums of four vectors (a transpose-add);
 * t01 and t23 are scratch.
 */
export function transposeAdd(f: FuncBuilder, s: readonly Local[], t01: Local, t23: Local, out: Local): void {
  const pair = (p: Local, q: Local, dst: Local) => {
    f.get(p).get(q).shuffle32([0, 4, 1, 5]).get(p).get(q).shuffle32([2, 6, 3, 7]).simd(SIMD.F32X4_ADD).set(dst);
  };
  pair(s[0], s[1], t01);
  pair(s[2], s[3], t23);
  f.get(t01).get(t23).shuffle32([0, 1, 4, 5]).get(t01).get(t23).shuffle32([2, 3, 6, 7]).simd(SIMD.F32X4_ADD).set(out);
}
