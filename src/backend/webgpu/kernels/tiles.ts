/**
 * A generator for small batched matmul-like kernels whose operands are computed on the fly
 * (the SSD stages multiply decays and Δ into their tiles as they load them).
 *
 * A workgroup of 16×16 invocations computes a 64×64 output tile acc[r, c] = Σ_k A(r, k) B(k, c)
 * over one or more phases (ranges of k, each with its own loaders), staging 16 values of k at a
 * time in shared memory As[16][64], Bs[16][64]. Invocation (tx, ty) owns rows ty + 16i and
 * columns tx + 16j: its shared reads are broadcasts (As) or consecutive (Bs).
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
  return `for (var tQ = 0u; tQ < 4u; tQ++) {
      let tE = lid + 256u * tQ;
      let tK = ${kk};
      let tX = ${x};
      var tV = 0.0;
      if (k0 + tK < kEnd && ${origin} + tX < ${bound}) { tV = ${value}; }
      ${S}[tK * 64u + tX] = tV;
    }`;
}

export function tiledSource(s: TileSpec): string {
  const phases = s.phases.map((ph) => `{
    let kEnd = ${ph.kEnd};
    for (var k0 = ${ph.kBegin}; k0 < kEnd; k0 += 16u) {
      ${load('As', ph.A, true, 'rows')}
      ${load('Bs', ph.B, false, 'cols')}
      workgroupBarrier();
      for (var tk = 0u; tk < 16u; tk++) {
        let tA = vec4<f32>(As[tk * 64u + ty], As[tk * 64u + ty + 16u], As[tk * 64u + ty + 32u], As[tk * 64u + ty + 48u]);
        let tB = vec4<f32>(Bs[tk * 64u + tx], Bs[tk * 64u + tx + 16u], Bs[tk * 64u + tx + 32u], Bs[tk * 64u + tx + 48u]);
        acc0 = fma(vec4<f32>(tA.x), tB, acc0);
        acc1 = fma(vec4<f32>(tA.y), tB, acc1);
        acc2 = fma(vec4<f32>(tA.z), tB, acc2);
        acc3 = fma(vec4<f32>(tA.w), tB, acc3);
      }
      workgroupBarrier();
    }
  }`);
  const stores: string[] = [];
  const comp = ['x', 'y', 'z', 'w'];
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      stores.push(`if (r0 + ty + ${16 * i}u < rows && c0 + tx + ${16 * j}u < cols) {
    let oR = r0 + ty + ${16 * i}u;
    let oC = c0 + tx + ${16 * j}u;
    ${s.store('oR', 'oC', `acc${i}.${comp[j]}`)}
  }`);
    }
  }
  return `${header(s.fields, s.buffers)}
${s.prelude ?? ''}
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tx = lid % 16u;
  let ty = lid / 16u;
  ${s.setup}
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  ${phases.join('\n  ')}
  ${stores.join('\n  ')}
}`;
}
