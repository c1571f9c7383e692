/**
 * Checks of what callers pass to the public entry points, so that a plain array, a tensor of the
 * wrong rank or dtype, or another model's state fails at the call with one line naming the
 * argument and what was expected, instead of deep inside a kernel. Shapes and types only: no
 * check reads tensor data, so none costs anything on the decode path.
 */
import { UserError } from '../errors.js';
import { Tensor } from '../tensor.js';

const DTYPE_NAMES = { i32: 'int32', f32: 'float32' } as const;

/** e.g. "a 1-D int32 tensor [5]", "an array of 3 numbers", "undefined" */
export function describeValue(v: unknown): string {
  if (v instanceof Tensor) return `a ${v.shape.length}-D ${DTYPE_NAMES[v.dtype]} tensor [${v.shape.join(', ')}]`;
  if (Array.isArray(v)) {
    const kinds = [...new Set(v.slice(0, 8).map((x) => (Array.isArray(x) ? 'arrays' : `${typeof x}s`)))];
    return `an array of ${v.length} ${kinds.length === 1 ? kinds[0] : 'items'}`;
  }
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return v.constructor === Object || !v.constructor ? 'an object' : `a ${v.constructor.name}`;
  return `a ${typeof v} (${String(v).slice(0, 40)})`;
}

/**
 * `v` as a tensor of `dtype` and `dims.length` dimensions, each at least 1, e.g.
 * `expectTensor(ids, 'MambaLM.forward(ids)', 'i32', ['B', 'L'])`.
 */
export function expectTensor(v: unknown, where: string, dtype: Tensor['dtype'], dims: readonly string[]): Tensor {
  const want = `${dtype === 'i32' ? 'an' : 'a'} ${DTYPE_NAMES[dtype]} tensor [${dims.join(', ')}]`;
  const hint = Array.isArray(v) || ArrayBuffer.isView(v) ? ' (make one with model.ids(rows) or backend.upload(Int32Array, shape))' : '';
  if (!(v instanceof Tensor) || v.dtype !== dtype || v.shape.length !== dims.length) {
    throw new UserError(`${where}: expected ${want}, got ${describeValue(v)}${hint}`);
  }
  if (v.shape.some((d) => d < 1)) throw new UserError(`${where}: expected ${want} with no empty dimension, got [${v.shape.join(', ')}]`);
  if (v.disposed) throw new UserError(`${where}: the tensor was disposed`);
  return v;
}

/** Token ids from JS numbers: each an integer in [0, vocab). */
export function checkIdValues(ids: ArrayLike<number>, where: string, vocab: number): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(Number.isInteger(id) && id >= 0 && id < vocab)) {
      throw new UserError(`${where}: item ${i} is ${typeof id === 'number' ? id : describeValue(id)}, not a token id in [0, ${vocab})`);
    }
  }
}
