/**
 * Every seeded random stream of the project, on the ground floor.
 *
 * - `Mulberry32` (Tommy Ettinger's mulberry32): one u32 of state, so a training checkpoint stores
 *   it and a resumed run draws the same numbers; period 2^32, plenty for batch windows, synthetic
 *   task sequences and initial weights.
 * - `Xoshiro128` (xoshiro128**, Blackman & Vigna, seeded through splitmix32): 128 bits of state and
 *   53-bit uniforms for sampling tokens, so that nearby seeds give unrelated streams.
 *
 * Both use 32-bit integer math only: the same seed gives the same numbers on every platform.
 */

/** The generator of training: batches, tasks, initial weights. */
export class Mulberry32 {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** The state to store; `Mulberry32.fromState(rng.state)` continues the same stream. */
  get state(): number {
    return this.s;
  }

  static fromState(state: number): Mulberry32 {
    return new Mulberry32(state);
  }

  /** uniform in [0, 1) */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** uniform integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** standard normal (Box–Muller, one of the pair) */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
  }

  /** `k` distinct integers of [0, n), in the order drawn (partial Fisher–Yates). */
  distinct(n: number, k: number): number[] {
    if (k > n) throw new RangeError(`cannot draw ${k} distinct values from ${n}`);
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, k);
  }
}

/** The generator of sampling. */
export class Xoshiro128 {
  private readonly s: Uint32Array;

  /** `seed`: any safe integer. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Xoshiro128: seed ${seed} is not a safe integer`);
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x85ebca6b);
    this.s = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x ^ (x >>> 16);
      z = Math.imul(z, 0x21f0aaad);
      z ^= z >>> 15;
      z = Math.imul(z, 0x735a2d97);
      this.s[i] = z ^ (z >>> 15);
    }
  }

  /** uniform 32-bit unsigned integer */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** uniform in [0, 1) with 53 random bits */
  next(): number {
    const hi = this.nextU32() >>> 5;   // 27 bits
    const lo = this.nextU32() >>> 6;   // 26 bits
    return (hi * 2 ** 26 + lo) / 2 ** 53;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
