/**
 * A generator for small batched matmul-like kernels whose operands are computed on the fly
 * (the SSD stages multiply decays and Δ into their tiles as they load them).
 *
 * A workgroup of 8×8 invocations computes a 64×64 output tile acc[r, c] = Σ_k A(r, k) B(k, c)
 * over one or more phases (ranges of k, each with its own loaders), staging 16 values of k at a
 * time in shared memory As[16][64], Bs[16][64]. Invocation (tx, ty) owns rows 32q + 4ty + i and
 * columns 32c + 4tx + j (q, c < 2; i, j < 4): per k it reads two vec4 of each tile (broadcasts
 * from As, consecutive from Bs) for 64 FMAs, so shared-memory reads stay far below the FMA rate.
 */
import type { BufferDecl } from '../wgsl.js';
import { header } from '../wgsl.js';

export interface Operand {
  /** true when consecutive k are adjacent in memory (loads then run along k) */
  kFast: boolean;
  /** f32 WGSL expression for element (r, k) of A or (k, c) of B; indices are in range */
  at: (a: string, b: string) => string;
}

export interface Phase {
  kBegin: string;
  kEnd: string;
  A: Operand;
  B: Operand;
}

export interface TileSpec {
  label: string;
  fields: string;
  buffers: readonly BufferDecl[];
  prelude?: string;
  /**
   * Statements run first with `wid` in scope. They must define r0, c0 (the tile's origin),
   * rows, cols (the output's bounds) and may `return` for a whole workgroup.
   */
  setup: string;
  phases: readonly Phase[];
  /** statement for output (r, c) with its value `acc`; runs only for r < rows, c < cols */
  store: (r: string, c: string, acc: string) => string;
}

function load(S: string, o: Operand, isA: boolean, bound: string): string {
  // isA: shared [k][r] from A(r, k); else shared [k][c] from B(k, c). Locals are prefixed
  // with t so they cannot shadow the kernel's buffers.
  const [kk, x] = o.kFast ? ['tE % 16u', 'tE / 16u'] : ['tE / 64u', 'tE % 64u'];
  const origin = isA ? 'r0' : 'c0';
  const value = isA ? o.at(`${origin} + tX`, 'k0 + tK') : o.at('k0 + tK', `${origin} + tX`);
  return `for (var tQ = 0u; tQ < 16u; tQ++) {
      let tE = lid + 64u * tQ;
      let tK = ${kk};
      let tX = ${x};
      var tV = 0.0;
      if (k0 + tK < kEnd && ${origin} + tX < ${bound}) { tV = ${value}; }
      ${S}[tK * 16u + tX / 4u][tX % 4u] = tV;
    }`;
}

const COMP = ['x', 'y', 'z', 'w'];
/** [q, i, c] of each vec4 accumulator acc{q}{i}{c} (row group, row in group, column group), and j */
const MICRO = [0, 1].flatMap((q) => [0, 1, 2, 3].flatMap((i) => [0, 1].flatMap((c) => [0, 1, 2, 3].map((j) => [q, i, c, j]))));
const ACC = [0, 1].flatMap((q) => [0, 1, 2, 3].flatMap((i) => [0, 1].map((c) => `acc${q}${i}${c}`)));
const fmas = [
  'let tA0 = As[tk * 16u + ty];', 'let tA1 = As[tk * 16u + 8u + ty];',
  'let tB0 = Bs[tk * 16u + tx];', 'let tB1 = Bs[tk * 16u + 8u + tx];',
  ...[0, 1].flatMap((q) => [0, 1, 2, 3].flatMap((i) => [0, 1].map((c) => `acc${q}${i}${c} = fma(vec4<f32>(tA${q}.${COMP[i]}), tB${c}, acc${q}${i}${c});`))),
].join('\n        ');

export function tiledSource(s: TileSpec): string {
  const phases = s.phases.map((ph) => `{
    let kEnd = ${ph.kEnd};
    for (var k0 = ${ph.kBegin}; k0 < kEnd; k0 += 16u) {
      ${load('As', ph.A, true, 'rows')}
      ${load('Bs', ph.B, false, 'cols')}
      workgroupBarrier();
      for (var tk = 0u; tk < 16u; tk++) {
        ${fmas}
      }
      workgroupBarrier();
    }
  }`);
  const stores: string[] = [];
  for (const [q, i, c, j] of MICRO) {
    stores.push(`if (r0 + ${32 * q + i}u + ty * 4u < rows && c0 + ${32 * c + j}u + tx * 4u < cols) {
    let oR = r0 + ${32 * q + i}u + ty * 4u;
    let oC = c0 + ${32 * c + j}u + tx * 4u;
    ${s.store('oR', 'oC', `acc${q}${i}${c}.${COMP[j]}`)}
  }`);
  }
  return `${header(s.fields, s.buffers)}
${s.prelude ?? ''}
var<workgroup> As: array<vec4<f32>, 256>;
var<workgroup> Bs: array<vec4<f32>, 256>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tx = lid % 8u;
  let ty = lid / 8u;
  ${s.setup}
  ${ACC.map((a) => `var ${a} = vec4<f32>(0.0);`).join('\n  ')}
  ${phases.join('\n  ')}
  ${stores.join('\n  ')}
}`;
}
