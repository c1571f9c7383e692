/**
 * The compiled GEMM kernels: generated once per process for the features the engine has, and
 * instantiated on the shared heap by the main thread (here) and by each pool worker.
 */
import { wasm, type WasmModule } from './api.js';
import { encodeModule, FuncBuilder, SIMD } from './encoder.js';
import { MAX_PAGES } from './heap.js';
import { buildGemmModule } from './kernels.js';

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

export const gemmModule: WasmModule = new wasm.Module(buildGemmModule(relaxedSimd, MAX_PAGES));
