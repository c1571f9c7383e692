/**
 * GGUF, llama.cpp's file format (ggml's docs/gguf.md, gguf-py's constants.py):
 *
 *   "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv × (string key | u32 value type | value)
 *   n_tensors × (string name | u32 n_dims | u64 ne[n_dims] | u32 ggml type | u64 offset)
 *   padding to `general.alignment` (default 32), then the tensor data, each tensor at its offset
 *   (relative to the data start, a multiple of the alignment).
 *
 * Strings are u64 length + UTF-8 bytes; arrays are u32 item type + u64 count + items. All
 * little-endian. `ne` is ggml's order: ne[0] is the fastest-varying dimension, so a row-major
 * [rows, cols] matrix is ne = [cols, rows].
 */

export const GGUF_MAGIC = 'GGUF';
export const GGUF_VERSION = 3;
export const DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS and GGML_MAX_NAME (a name must be shorter) */
export const MAX_DIMS = 4;
export const MAX_NAME = 64;

/** Metadata value types by their code in the file. */
export const VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];
export type NumberType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
export type BigType = 'u64' | 'i64';

/** Bytes of one item of a fixed-size type (strings and arrays have none). */
export const VALUE_BYTES: Partial<Record<ValueType, number>> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8,
};

/** A typed metadata value, kept with its type so that reading and writing it back is exact. */
export type GgufValue =
  | { type: NumberType; value: number }
  | { type: BigType; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: ValueType; items: GgufValue[] };

/** ggml tensor types this project reads and writes: block of `blockSize` elements in `blockBytes`. */
export const TENSOR_TYPES = {
  F32: { id: 0, blockSize: 1, blockBytes: 4 },
  F16: { id: 1, blockSize: 1, blockBytes: 2 },
  Q4_0: { id: 2, blockSize: 32, blockBytes: 18 },  // f16 scale + 32 4-bit values
  Q8_0: { id: 8, blockSize: 32, blockBytes: 34 },  // f16 scale + 32 int8 values
} as const;
export type TensorType = keyof typeof TENSOR_TYPES;

/** Names of the other ggml types (ggml.h), so that a refusal says which one a file holds. */
export const OTHER_GGML_TYPES: Record<number, string> = {
  3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K',
  15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S',
  22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M',
  30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

export function tensorTypeById(id: number): TensorType | undefined {
  return (Object.keys(TENSOR_TYPES) as TensorType[]).find((t) => TENSOR_TYPES[t].id === id);
}

/** Bytes of `count` elements of `type` (count a multiple of its block size). */
export function tensorBytes(type: TensorType, count: number): number {
  const { blockSize, blockBytes } = TENSOR_TYPES[type];
  return (count / blockSize) * blockBytes;
}

/** llama.cpp's `general.file_type` (LLAMA_FTYPE_*) for a file whose large matrices are `type`. */
export const FILE_TYPES: Record<TensorType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 };

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
