/**
 * A minimal WebAssembly binary writer: just enough to emit the GEMM kernels of `kernels.ts` as a
 * module that imports one shared memory. Writing the bytes ourselves keeps the build to `tsc`
 * (no assembler or compiler package, no generated binary in git) and lets the kernels be
 * generated for the features the running engine has (relaxed SIMD or not).
 *
 * Encoding facts from the WebAssembly core spec (binary format, §5) and the SIMD / threads /
 * relaxed-SIMD proposals: LEB128 integers, sections 1 type, 2 import, 3 function, 7 export,
 * 10 code; SIMD opcodes are 0xfd followed by an unsigned LEB128 index.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
type ValType = typeof I32 | typeof F32 | typeof V128;

function uleb(out: number[], n: number): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(out: number[], n: number): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** `out.push(...src)` without the engine's limit on the number of spread arguments. */
function append(out: number[], src: readonly number[] | Uint8Array): void {
  for (let i = 0; i < src.length; i++) out.push(src[i]);
}

function name(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  append(out, bytes);
}

function section(out: number[], id: number, body: number[]): void {
  out.push(id);
  uleb(out, body.length);
  append(out, body);
}

/** A local variable handle: its index in the function's local space. */
export type Local = number & { readonly __local: unique symbol };

/**
 * Builds one function body. Methods push instructions in stack-machine order, e.g.
 * `f.get(a).get(b).op(I32_ADD)` leaves a + b on the stack.
 */
export class FuncBuilder {
  private readonly code: number[] = [];
  private readonly localTypes: ValType[] = [];
  readonly params: Local[];

  constructor(readonly nParams: number) {
    this.params = Array.from({ length: nParams }, (_, i) => i as Local);
  }

  local(type: ValType): Local {
    this.localTypes.push(type);
    return (this.nParams + this.localTypes.length - 1) as Local;
  }

  get(l: Local): this { this.code.push(0x20); uleb(this.code, l); return this; }
  set(l: Local): this { this.code.push(0x21); uleb(this.code, l); return this; }
  tee(l: Local): this { this.code.push(0x22); uleb(this.code, l); return this; }
  i32(n: number): this { this.code.push(0x41); sleb(this.code, n | 0); return this; }
  /** A plain (non-SIMD) opcode such as I32_ADD. */
  op(code: number): this { this.code.push(code); return this; }
  /** A SIMD-prefixed opcode such as F32X4_ADD. */
  simd(code: number): this { this.code.push(0xfd); uleb(this.code, code); return this; }

  /** Loads/stores: `memarg` is (align log2, constant byte offset). */
  mem(code: number, offset: number, alignLog2: number, simd: boolean): this {
    if (simd) this.simd(code); else this.code.push(code);
    uleb(this.code, alignLog2);
    uleb(this.code, offset);
    return this;
  }

  v128Load(offset = 0): this { return this.mem(SIMD.LOAD, offset, 0, true); }
  v128Store(offset = 0): this { return this.mem(SIMD.STORE, offset, 0, true); }
  load32Splat(offset = 0): this { return this.mem(SIMD.LOAD32_SPLAT, offset, 0, true); }
  /** [address, vector] -> the vector with lane `lane` loaded from memory */
  load32Lane(lane: number, offset = 0): this { this.mem(SIMD.LOAD32_LANE, offset, 0, true); this.code.push(lane); return this; }
  /** [address, vector] -> (), lane `lane` stored to memory */
  store32Lane(lane: number, offset = 0): this { this.mem(SIMD.STORE32_LANE, offset, 0, true); this.code.push(lane); return this; }
  f32Load(offset = 0): this { return this.mem(0x2a, offset, 0, false); }
  f32Store(offset = 0): this { return this.mem(0x38, offset, 0, false); }

  v128Zero(): this {
    this.simd(SIMD.CONST);
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
  }

  /** v128.const with the same f32 (or, with `bits`, the same i32 bit pattern) in all 4 lanes. */
  v128Splat(value: number, bits = false): this {
    const lane = new Uint8Array(4);
    if (bits) new DataView(lane.buffer).setInt32(0, value | 0, true);
    else new DataView(lane.buffer).setFloat32(0, value, true);
    this.simd(SIMD.CONST);
    for (let i = 0; i < 4; i++) append(this.code, lane);
    return this;
  }

  /** i8x16.shuffle taking 32-bit lanes (0-3 from the first operand, 4-7 from the second). */
  shuffle32(lanes: readonly [number, number, number, number]): this {
    this.simd(SIMD.SHUFFLE);
    for (const l of lanes) for (let b = 0; b < 4; b++) this.code.push(l * 4 + b);
    return this;
  }

  extractLane(lane: number): this { this.simd(SIMD.F32X4_EXTRACT_LANE); this.code.push(lane); return this; }

  /** `block ... end` with no result: `br` to it jumps past its end. */
  block(body: () => void): this { this.code.push(0x02, 0x40); body(); this.code.push(0x0b); return this; }
  /** `loop ... end` with no result: `br` to it jumps back to its start. */
  loop(body: () => void): this { this.code.push(0x03, 0x40); body(); this.code.push(0x0b); return this; }
  /** `if ... end` on the i32 on top of the stack. */
  if(body: () => void): this { this.code.push(0x04, 0x40); body(); this.code.push(0x0b); return this; }
  brIf(depth: number): this { this.code.push(0x0d); uleb(this.code, depth); return this; }

  /** Adds a constant to an i32 local. */
  addTo(l: Local, n: number): this {
    if (n === 0) return this;
    return this.get(l).i32(n).op(I32_ADD).set(l);
  }

  /** The function body as it appears in the code section (locals + instructions + end). */
  encode(): number[] {
    const body: number[] = [];
    // Consecutive locals of one type are declared as one (count, type) run.
    const runs: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++; else runs.push([1, t]);
    }
    uleb(body, runs.length);
    for (const [n, t] of runs) { uleb(body, n); body.push(t); }
    append(body, this.code);
    body.push(0x0b);
    const out: number[] = [];
    uleb(out, body.length);
    append(out, body);
    return out;
  }
}

export const I32_EQZ = 0x45;
export const I32_EQ = 0x46;
export const I32_LT_U = 0x49;
export const I32_GE_U = 0x4f;
export const I32_ADD = 0x6a;
export const I32_SUB = 0x6b;
export const I32_MUL = 0x6c;
export const I32_AND = 0x71;
export const I32_SHL = 0x74;
export const F32_ADD = 0x92;

export const SIMD = {
  LOAD: 0x00,
  LOAD32_SPLAT: 0x09,
  STORE: 0x0b,
  CONST: 0x0c,
  SHUFFLE: 0x0d,
  F32X4_EXTRACT_LANE: 0x1f,
  F32X4_GT: 0x44,
  V128_AND: 0x4e,
  /** v128.bitselect(a, b, mask): bits of a where mask is 1, of b where it is 0 */
  V128_BITSELECT: 0x52,
  LOAD32_LANE: 0x56,
  STORE32_LANE: 0x5a,
  /** i32x4 shifts take the count as an i32 operand */
  I32X4_SHL: 0xab,
  I32X4_SHR_S: 0xac,
  I32X4_ADD: 0xae,
  I32X4_SUB: 0xb1,
  F32X4_ABS: 0xe0,
  F32X4_NEG: 0xe1,
  F32X4_ADD: 0xe4,
  F32X4_SUB: 0xe5,
  F32X4_MUL: 0xe6,
  F32X4_DIV: 0xe7,
  /** pmin(a, b) = b < a ? b : a, pmax(a, b) = a < b ? b : a: one instruction each on x86 (the
   * IEEE min / max are about nine); a NaN in a passes through */
  F32X4_PMIN: 0xea,
  F32X4_PMAX: 0xeb,
  /** relaxed SIMD: a * b + c, fused or not at the engine's choice */
  F32X4_RELAXED_MADD: 0x105,
} as const;

export interface FuncDef {
  name: string;
  /** every parameter is an i32 (byte addresses, strides, counts); no results */
  nParams: number;
  body: FuncBuilder;
}

/**
 * A module that imports `env.memory` (shared, up to `maxPages` 64 KiB pages) and exports the
 * given functions by name.
 */
export function encodeModule(funcs: readonly FuncDef[], maxPages: number): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

  // One type per distinct parameter count: (i32 × n) -> ().
  const arities = [...new Set(funcs.map((f) => f.nParams))];
  const types: number[] = [];
  uleb(types, arities.length);
  for (const n of arities) {
    types.push(0x60);
    uleb(types, n);
    for (let i = 0; i < n; i++) types.push(I32);
    uleb(types, 0);
  }
  section(out, 1, types);

  const imports: number[] = [];
  uleb(imports, 1);
  name(imports, 'env');
  name(imports, 'memory');
  imports.push(0x02, 0x03); // memory, limits flag 3 = shared with a maximum
  uleb(imports, 1);
  uleb(imports, maxPages);
  section(out, 2, imports);

  const fnSec: number[] = [];
  uleb(fnSec, funcs.length);
  for (const f of funcs) uleb(fnSec, arities.indexOf(f.nParams));
  section(out, 3, fnSec);

  const exp: number[] = [];
  uleb(exp, funcs.length);
  funcs.forEach((f, i) => { name(exp, f.name); exp.push(0x00); uleb(exp, i); });
  section(out, 7, exp);

  const code: number[] = [];
  uleb(code, funcs.length);
  for (const f of funcs) append(code, f.body.encode());
  section(out, 10, code);

  return new Uint8Array(out);
}
