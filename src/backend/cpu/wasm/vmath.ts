/**
 * exp, softplus and SiLU on f32x4 vectors, emitted inline into a kernel (WebAssembly has no
 * transcendental instructions). Accuracy: a few ulp of float32 over the whole range; exp
 * underflows gradually to 0 (no NaN for any finite or infinite argument), overflows to +∞, and
 * NaN stays NaN.
 *
 * exp(x), after clamping x to [-104, 88.76] (outside, the result is already 0 or +∞ in f32):
 *   k = round(x / ln 2), r = x - k ln 2 (Cody-Waite: ln 2 = LN2_HI + LN2_LO, LN2_HI with 9
 *   significant bits so that k · LN2_HI is exact), |r| ≤ ln 2 / 2;
 *   e^r = 1 + r + r² q(r), q of degree 4 fitted to the relative error of e^r on |r| ≤ ln 2 / 2
 *   (weighted least squares on Chebyshev nodes, iterated towards minimax: 3.8e-9, far below
 *   the 6e-8 of an f32 half-ulp);
 *   e^x = e^r · 2^(k>>1) · 2^(k - (k>>1)): two factors so that each power of two is a normal
 *   float for k in [-150, 128], which makes the results below 2^-126 correctly rounded
 *   subnormals instead of garbage.
 * round() is the 1.5 · 2^23 trick: adding it leaves k in the low mantissa bits.
 *
 * softplus(x) = max(x, 0) + log1p(e^-|x|), the same function as log1p(e^x) but with e^-|x| in
 * (0, 1]; above 20 it is x to f32 rounding, so torch's threshold needs no branch.
 * log1p(u) = log(w) + (u - (w - 1)) / w with w = 1 + u (the second term restores what rounding
 * w lost), and for w in [1, 2]: w = m · 2^e with m in [√½, √2], log m = 2 atanh(s),
 * s = (m - 1) / (m + 1), |s| ≤ 0.172, by its series 2s (1 + s²/3 + s⁴/5 + s⁶/7 + s⁸/9)
 * (truncation error 2e-9).
 *
 * silu(x) = x / (1 + e^-x); below x = -88.7 that is -0 where the true value is under 4e-37 in
 * magnitude.
 */
import { type FuncBuilder, type Local, SIMD, V128 } from './encoder.js';

const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
/** q(r) for e^r = 1 + r + r² q(r), lowest degree first (see the file comment) */
const EXP_Q = [0.4999999403953552, 0.1666652113199234, 0.04166838899254799, 0.008368710055947304, 0.001381461275741458];
/** (P(z) - 1) / z for the atanh series P(z) = 1 + z/3 + z²/5 + z³/7 + z⁴/9, lowest degree first */
const ATANH = [1 / 3, 1 / 5, 1 / 7, 1 / 9];

/**
 * Emits the functions into one kernel body. The constructor loads the constants into locals, so
 * construct it before the kernel's loops (a constant in a local costs a register or a reload,
 * a v128.const inside a loop is rebuilt on every iteration).
 */
export class VMath {
  private readonly lo: Local; private readonly hi: Local;
  private readonly log2e: Local; private readonly magic: Local;
  private readonly ln2Hi: Local; private readonly ln2Lo: Local;
  private readonly q: Local[];
  private readonly one: Local; private readonly half: Local; private readonly zero: Local; private readonly sqrt2: Local;
  private readonly atanh: Local[];
  private readonly t: Local[];

  constructor(private readonly f: FuncBuilder) {
    const k = (v: number): Local => {
      const l = f.local(V128);
      f.v128Splat(v).set(l);
      return l;
    };
    this.lo = k(-104); this.hi = k(88.76);
    this.log2e = k(Math.LOG2E); this.magic = k(1.5 * 2 ** 23);
    this.ln2Hi = k(LN2_HI); this.ln2Lo = k(LN2_LO);
    this.q = EXP_Q.map(k);
    // 1.0f is also the bit pattern 127 << 23, the exponent bias that turns k into 2^k
    this.one = k(1); this.half = k(0.5); this.zero = k(0); this.sqrt2 = k(Math.SQRT2);
    this.atanh = ATANH.map(k);
    this.t = Array.from({ length: 6 }, () => f.local(V128));
  }

  /** out = e^x (out may be x) */
  exp(x: Local, out: Local): void {
    const f = this.f;
    const [c, y, kf] = this.t;
    f.get(x).get(this.lo).simd(SIMD.F32X4_PMAX).get(this.hi).simd(SIMD.F32X4_PMIN).set(c);
    f.get(c).get(this.log2e).simd(SIMD.F32X4_MUL).get(this.magic).simd(SIMD.F32X4_ADD).set(y);
    f.get(y).get(this.magic).simd(SIMD.F32X4_SUB).set(kf);
    // c = r, y = k as an integer
    f.get(c).get(kf).get(this.ln2Hi).simd(SIMD.F32X4_MUL).simd(SIMD.F32X4_SUB)
      .get(kf).get(this.ln2Lo).simd(SIMD.F32X4_MUL).simd(SIMD.F32X4_SUB).set(c);
    f.get(y).get(this.magic).simd(SIMD.I32X4_SUB).set(y);
    this.horner(c, this.q);
    f.get(c).simd(SIMD.F32X4_MUL).get(c).simd(SIMD.F32X4_MUL).get(c).simd(SIMD.F32X4_ADD).get(this.one).simd(SIMD.F32X4_ADD).set(kf);
    // kf = e^r; c = k >> 1; times 2^c, times 2^(k - c)
    f.get(y).i32(1).simd(SIMD.I32X4_SHR_S).set(c);
    f.get(kf).get(c).i32(23).simd(SIMD.I32X4_SHL).get(this.one).simd(SIMD.I32X4_ADD).simd(SIMD.F32X4_MUL)
      .get(y).get(c).simd(SIMD.I32X4_SUB).i32(23).simd(SIMD.I32X4_SHL).get(this.one).simd(SIMD.I32X4_ADD)
      .simd(SIMD.F32X4_MUL).set(out);
  }

  /** out = softplus(x) = log(1 + e^x) (out may be x) */
  softplus(x: Local, out: Local): void {
    const f = this.f;
    const [, , , u, w, m] = this.t;
    const [c, y] = this.t;
    f.get(x).simd(SIMD.F32X4_ABS).simd(SIMD.F32X4_NEG).set(u);
    this.exp(u, u);
    f.get(u).get(this.one).simd(SIMD.F32X4_ADD).set(w);
    // w > √2: m = w / 2 and e = 1 (y = e as a float), else m = w and e = 0
    f.get(w).get(this.sqrt2).simd(SIMD.F32X4_GT).set(c);
    f.get(c).get(this.one).simd(SIMD.V128_AND).set(y);
    f.get(w).get(this.half).simd(SIMD.F32X4_MUL).get(w).get(c).simd(SIMD.V128_BITSELECT).set(m);
    // m = 2s, c = s²
    f.get(m).get(this.one).simd(SIMD.F32X4_SUB).get(m).get(this.one).simd(SIMD.F32X4_ADD).simd(SIMD.F32X4_DIV).set(m);
    f.get(m).get(m).simd(SIMD.F32X4_MUL).set(c);
    f.get(m).get(m).simd(SIMD.F32X4_ADD).set(m);
    // log w = e·LN2_HI + (e·LN2_LO + (2s + 2s · s² (1/3 + s²/5 + ...)))
    this.horner(c, this.atanh);
    f.get(c).simd(SIMD.F32X4_MUL).get(m).simd(SIMD.F32X4_MUL).get(m).simd(SIMD.F32X4_ADD)
      .get(y).get(this.ln2Lo).simd(SIMD.F32X4_MUL).simd(SIMD.F32X4_ADD)
      .get(y).get(this.ln2Hi).simd(SIMD.F32X4_MUL).simd(SIMD.F32X4_ADD);
    // + (u - (w - 1)) / w + max(x, 0)
    f.get(u).get(w).get(this.one).simd(SIMD.F32X4_SUB).simd(SIMD.F32X4_SUB).get(w).simd(SIMD.F32X4_DIV).simd(SIMD.F32X4_ADD)
      .get(x).get(this.zero).simd(SIMD.F32X4_PMAX).simd(SIMD.F32X4_ADD).set(out);
  }

  /** out = x · sigmoid(x) (out may be x) */
  silu(x: Local, out: Local): void {
    const f = this.f;
    const e = this.t[3];
    f.get(x).simd(SIMD.F32X4_NEG).set(e);
    this.exp(e, e);
    f.get(x).get(e).get(this.one).simd(SIMD.F32X4_ADD).simd(SIMD.F32X4_DIV).set(out);
  }

  /** pushes c[0] + c[1] v + ... + c[n-1] v^(n-1) (Horner's rule) */
  private horner(v: Local, c: readonly Local[]): void {
    const f = this.f;
    f.get(v).get(c[c.length - 1]).simd(SIMD.F32X4_MUL);
    for (let i = c.length - 2; i >= 0; i--) {
      f.get(c[i]).simd(SIMD.F32X4_ADD);
      if (i > 0) f.get(v).simd(SIMD.F32X4_MUL);
    }
  }
}
