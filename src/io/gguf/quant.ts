/**
 * ggml tensor encodings: F32, F16 and the block quantizations Q8_0 and Q4_0 (ggml-quants.c's
 * reference rows). A block covers 32 consecutive elements of a row (ne[0] must be a multiple of
 * 32) and starts with its f16 scale d:
 *   Q8_0: d = max|x| / 127, q = round(x / d) as int8;           x ≈ q·d
 *   Q4_0: d = (the x of largest |x|) / -8, q = min(15, trunc(x/d + 8.5)) as 4 bits, element j in
 *         the low nibble of byte j and element j+16 in its high nibble;  x ≈ (q − 8)·d
 * The arithmetic is f32 as in ggml (Math.fround), so the bytes are those llama.cpp writes.
 */
import { decodeElements } from '../dtypes.js';
import { tensorBytes, type TensorType } from './format.js';

const QK = 32;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 -> f16 bits, rounding to nearest even (as F16C's conversion and numpy do). */
export function toHalf(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // the f16 exponent field
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // a carry out of the mantissa bumps the exponent, up to infinity: both are the right result
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** C's roundf: halves away from zero. */
function roundf(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

/** Encodes f32 values (ne[0] a multiple of the block size) as `type`'s bytes. */
export function encodeTensor(data: Float32Array, type: TensorType): Uint8Array {
  const out = new Uint8Array(tensorBytes(type, data.length));
  const view = new DataView(out.buffer);
  switch (type) {
    case 'F32':
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      break;
    case 'F16':
      for (let i = 0; i < data.length; i++) view.setUint16(2 * i, toHalf(data[i]), true);
      break;
    case 'Q8_0':
      for (let b = 0; b * QK < data.length; b++) {
        const x = data.subarray(b * QK, (b + 1) * QK);
        let amax = 0;
        for (const v of x) amax = Math.max(amax, Math.abs(v));
        const d = Math.fround(amax / 127);
        const id = d ? Math.fround(1 / d) : 0;
        view.setUint16(b * 34, toHalf(d), true);
        for (let j = 0; j < QK; j++) view.setInt8(b * 34 + 2 + j, roundf(Math.fround(x[j] * id)));
      }
      break;
    case 'Q4_0':
      for (let b = 0; b * QK < data.length; b++) {
        const x = data.subarray(b * QK, (b + 1) * QK);
        let amax = 0;
        let max = 0;
        for (const v of x) {
          if (amax < Math.abs(v)) {
            amax = Math.abs(v);
            max = v;
          }
        }
        const d = Math.fround(max / -8);
        const id = d ? Math.fround(1 / d) : 0;
        view.setUint16(b * 18, toHalf(d), true);
        for (let j = 0; j < QK / 2; j++) {
          const lo = Math.min(15, Math.trunc(Math.fround(Math.fround(x[j] * id) + 8.5)));
          const hi = Math.min(15, Math.trunc(Math.fround(Math.fround(x[j + 16] * id) + 8.5)));
          out[b * 18 + 2 + j] = lo | (hi << 4);
        }
      }
      break;
  }
  return out;
}

/** Decodes `count` elements of `type` to f32 (quantized blocks are dequantized). */
export function decodeTensor(bytes: Uint8Array, type: TensorType, count: number, where: string): Float32Array {
  if (type === 'F32' || type === 'F16') {
    // decodeElements views the bytes in place; copy them first when they are not aligned for it
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    return Float32Array.from(decodeElements(aligned, type, count, where));
  }
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blockBytes = type === 'Q8_0' ? 34 : 18;
  const halves = new Uint16Array(count / QK);
  for (let b = 0; b < halves.length; b++) halves[b] = view.getUint16(b * blockBytes, true);
  const scales = decodeElements(new Uint8Array(halves.buffer), 'F16', halves.length, where);
  for (let b = 0; b * QK < count; b++) {
    const o = b * blockBytes;
    const d = scales[b];
    if (type === 'Q8_0') {
      for (let j = 0; j < QK; j++) out[b * QK + j] = view.getInt8(o + 2 + j) * d;
    } else {
      for (let j = 0; j < QK / 2; j++) {
        const q = bytes[o + 2 + j];
        out[b * QK + j] = ((q & 0x0f) - 8) * d;
        out[b * QK + j + 16] = ((q >> 4) - 8) * d;
      }
    }
  }
  return out;
}
