import { UserError } from '../errors.js';
import type { HostArray } from '../tensor.js';

/** Element types found in checkpoints, by their safetensors names. */
export type SourceDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const SOURCE_BYTES: Record<SourceDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export function isFloatSource(t: SourceDType): boolean {
  return t === 'F64' || t === 'F32' || t === 'F16' || t === 'BF16';
}

let f16Table: Float32Array | undefined;

/** All 65536 half-precision values as f32: decoding becomes one table lookup per element. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24; // subnormal (and ±0)
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return (f16Table = t);
}

/**
 * Converts `count` little-endian elements of `type` to f32 (floats) or i32 (integers).
 * `bytes` must start at an offset aligned to the element size (a freshly allocated buffer is).
 * `where` names the tensor for the error when an int64 does not fit in int32.
 */
export function decodeElements(bytes: Uint8Array, type: SourceDType, count: number, where: string): HostArray {
  const buf = bytes.buffer;
  const off = bytes.byteOffset;
  switch (type) {
    case 'F32':
      return new Float32Array(buf, off, count);
    case 'I32':
      return new Int32Array(buf, off, count);
    case 'F64': {
      const out = new Float32Array(count);
      out.set(new Float64Array(buf, off, count)); // TypedArray.set rounds f64 -> f32 natively
      return out;
    }
    case 'F16': {
      const table = halfTable();
      const src = new Uint16Array(buf, off, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[src[i]];
      return out;
    }
    case 'BF16': {
      // bf16 is the top half of an f32: shift the bits into place.
      const src = new Uint16Array(buf, off, count);
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = src[i] << 16;
      return out;
    }
    case 'I64': {
      // Read as (low, high) int32 pairs: a value fits int32 exactly when high is low's sign.
      const src = new Int32Array(buf, off, 2 * count);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const lo = src[2 * i];
        if (src[2 * i + 1] !== lo >> 31) {
          throw new UserError(`${where}: int64 element ${i} does not fit in int32`);
        }
        out[i] = lo;
      }
      return out;
    }
    case 'I16': {
      const out = new Int32Array(count);
      out.set(new Int16Array(buf, off, count));
      return out;
    }
    case 'I8': {
      const out = new Int32Array(count);
      out.set(new Int8Array(buf, off, count));
      return out;
    }
    case 'U8':
    case 'BOOL': {
      const out = new Int32Array(count);
      out.set(new Uint8Array(buf, off, count));
      return out;
    }
  }
}
