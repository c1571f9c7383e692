/**
 * The one shared WebAssembly memory the GEMM kernels and their worker threads read: pinned
 * weights live here for the life of the model, and each sgemm call copies its activations into
 * a scratch block here.
 *
 * wasm32 addresses reach 4 GiB, so that is the most that can be pinned. The memory grows as
 * weights are pinned; views made before a grow stay valid (the memory is shared, so its buffer is
 * never detached), but `memory.buffer` is then a new object, so we remember every buffer object
 * the memory has had and recognise heap views by that, not by identity with the current buffer.
 */
import { UserError } from '../../../errors.js';
import { wasm } from './api.js';
import { MASK_TABLE, RESERVED_BYTES } from './kernels.js';

const PAGE = 65536;
/** the most a wasm32 memory can have: 4 GiB (the kernels' module declares this maximum) */
export const MAX_PAGES = 65536;
const INITIAL_PAGES = 256;
const ALIGN = 64;
/** kernels read up to 16 bytes past the end of a row (see kernels.ts) */
const SLACK = 64;

export const memory = new wasm.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared: true });

const knownBuffers = new Set<ArrayBufferLike>();

let view: Float32Array = new Float32Array(0);

/** A Float32Array over the whole memory as it is now. */
export function heapF32(): Float32Array {
  if (view.byteLength !== memory.buffer.byteLength) {
    const buf = memory.buffer;
    knownBuffers.add(buf);
    view = new Float32Array(buf);
  }
  return view;
}

/** Whether `a` is a view of this memory (made before or after any grow). */
export function inHeap(a: Float32Array): boolean {
  return knownBuffers.has(a.buffer);
}

new Int32Array(memory.buffer, MASK_TABLE, 16).set([
  -1, -1, -1, -1,
  -1, 0, 0, 0,
  -1, -1, 0, 0,
  -1, -1, -1, 0,
]);

/** free ranges [start, end) in bytes, sorted by start and never adjacent (merged) */
const free: { start: number; end: number }[] = [{ start: RESERVED_BYTES, end: INITIAL_PAGES * PAGE }];
const sizes = new Map<number, number>();

/** Grows the memory by at least minBytes, for a request of `request` bytes. */
function grow(minBytes: number, request: number): void {
  const have = memory.buffer.byteLength / PAGE;
  // Grow by at least an eighth so that pinning a model tensor by tensor is not quadratic;
  // untouched pages cost no physical memory.
  const want = Math.max(Math.ceil(minBytes / PAGE), Math.ceil(have / 8), 256);
  const pages = Math.min(want, MAX_PAGES - have);
  if (pages * PAGE < minBytes) {
    const used = (have * PAGE - free.reduce((s, r) => s + r.end - r.start, 0)) / 2 ** 20;
    throw new UserError(
      `wasm heap: cannot place ${(request / 2 ** 20).toFixed(1)} MiB more: ${used.toFixed(0)} MiB are in use ` +
      'and the CPU backend keeps weights in one 32-bit WebAssembly memory of at most 4 GiB',
    );
  }
  const oldEnd = have * PAGE;
  memory.grow(pages);
  const last = free[free.length - 1];
  if (last && last.end === oldEnd) last.end = oldEnd + pages * PAGE;
  else free.push({ start: oldEnd, end: oldEnd + pages * PAGE });
}

/** Reserves `bytes` (64-byte aligned, with slack after) and returns the byte address. */
export function heapAlloc(bytes: number): number {
  const size = Math.ceil((bytes + SLACK) / ALIGN) * ALIGN;
  for (;;) {
    const i = free.findIndex((r) => r.end - r.start >= size);
    if (i >= 0) {
      const r = free[i];
      const at = r.start;
      r.start += size;
      if (r.start === r.end) free.splice(i, 1);
      sizes.set(at, size);
      return at;
    }
    const last = free[free.length - 1];
    const tail = last && last.end === memory.buffer.byteLength ? last.end - last.start : 0;
    grow(size - tail, size);
  }
}

/** Returns a block from heapAlloc to the free list. */
export function heapFree(at: number): void {
  const size = sizes.get(at);
  if (size === undefined) throw new Error(`wasm heap: ${at} is not an allocated block`);
  sizes.delete(at);
  const end = at + size;
  let i = free.findIndex((r) => r.start > at);
  if (i < 0) i = free.length;
  free.splice(i, 0, { start: at, end });
  // merge with the next, then with the previous neighbour
  if (i + 1 < free.length && free[i + 1].start === end) {
    free[i].end = free[i + 1].end;
    free.splice(i + 1, 1);
  }
  if (i > 0 && free[i - 1].end === at) {
    free[i - 1].end = free[i].end;
    free.splice(i, 1);
  }
}

/**
 * A kernel's work block in the heap, kept between calls and replaced by a larger one when a
 * call needs more. Not zeroed.
 */
export class ScratchBlock {
  private at = 0;
  private bytes = 0;

  /** byte address of a block of at least `bytes` */
  reserve(bytes: number): number {
    if (bytes > this.bytes) {
      if (this.at) heapFree(this.at);
      this.at = heapAlloc(bytes);
      this.bytes = bytes;
    }
    return this.at;
  }
}

/** bytes in allocated blocks (for tests and diagnostics) */
export function heapInUse(): number {
  let s = 0;
  for (const v of sizes.values()) s += v;
  return s;
}
