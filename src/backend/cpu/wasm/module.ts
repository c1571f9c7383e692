/**
 * The compiled GEMM kernels: generated once per process for the features the engine has, and
 * instantiated on the shared heap by the main thread (here) and by each pool worker.
 */
import { wasm, type WasmModule } from './api.js';
import { encodeModule, FuncBuilder, SIMD } from './encoder.js';
import { MAX_PAGES } from './heap.js';
import { buildGemmModule, type KernelSpec } from './kernels.js';

/**
 * Tile shapes the driver uses (see kernels.ts for the register budget they respect):
 * dot 2 × 4 (8 accumulators) for M ≥ 2, its remainder rows being a 1 × 4 tile, and 2 × 1 for
 * the last 0..3 columns of a chunk; for M = 1 (the decode matvec) a 1 × 8 tile: 8 streams
 * through W per thread instead of 4 (a little less time per decode step's matvecs); outer 4 × 8 and 4 × 4; the 2 × 4 panel tile and its packing kernels.
 */
export const TILES = { dotRows: 2, dotCols: 4, matvecCols: 8, outerRows: 4, outerVecs: 2 } as const;

function gemmKernels(): KernelSpec[] {
  const { dotRows, dotCols, matvecCols, outerRows, outerVecs } = TILES;
  const specs: KernelSpec[] = [];
  for (let rem = 0; rem < dotRows; rem++) {
    specs.push({ form: 'dot', rows: dotRows, rem, nr: dotCols, sets: 1 }, { form: 'dot', rows: dotRows, rem, nr: 1, sets: 1 });
  }
  specs.push({ form: 'dot', rows: 1, rem: 0, nr: matvecCols, sets: 1 }, { form: 'dot', rows: 1, rem: 0, nr: 1, sets: 1 });
  for (let rem = 0; rem < outerRows; rem++) {
    specs.push({ form: 'outer', rows: outerRows, rem, nv: outerVecs }, { form: 'outer', rows: outerRows, rem, nv: 1 });
  }
  specs.push({ form: 'panel' }, { form: 'pack', g: 2 }, { form: 'pack', g: 4 }, { form: 'packT' });
  return specs;
}

/**
 * Relaxed SIMD gives a fused multiply-add (one instruction and one register fewer per product);
 * Node 20's V8 has it only behind a flag, later versions by default. Probe rather than assume.
 */
function hasRelaxedSimd(): boolean {
  const f = new FuncBuilder(0);
  f.v128Zero().v128Zero().v128Zero().simd(SIMD.F32X4_RELAXED_MADD).op(0x1a /* drop */);
  return wasm.validate(encodeModule([{ name: 'probe', nParams: 0, body: f }], 1));
}

export const relaxedSimd = hasRelaxedSimd();

export const gemmModule: WasmModule = new wasm.Module(buildGemmModule(gemmKernels(), relaxedSimd, MAX_PAGES));
