/**
 * The part of the WebAssembly JS API the CPU kernels use, typed here because the project's
 * `lib` (ES2022, no DOM) does not declare it; a local type instead of a global declaration so
 * that it cannot clash if another part of the project turns the DOM lib on.
 */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}

export interface WasmModule { readonly __module: unique symbol }

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: true }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (m: WasmModule, imports: { env: { memory: WasmMemory } }) => WasmInstance;
  validate(bytes: Uint8Array): boolean;
}

export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** An exported kernel: every parameter is an i32. */
export type Kernel = (...args: number[]) => void;

/**
 * The exported kernels in export order (a plan refers to a kernel by its index there).
 * Workers call this with the memory the main thread sent them (this file imports nothing, so a
 * worker does not create a heap of its own).
 */
export function instantiateKernels(module: WasmModule, memory: WasmMemory): { names: string[]; kernels: Kernel[] } {
  const inst = new wasm.Instance(module, { env: { memory } });
  const entries = Object.entries(inst.exports) as [string, Kernel][];
  return { names: entries.map((e) => e[0]), kernels: entries.map((e) => e[1]) };
}
