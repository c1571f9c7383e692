/**
 * Opening a backend by name, for front doors (`--device`) and library users in Node. Apart from
 * src/backend/index.ts because it brings in the CPU backend, whose worker pool browsers lack.
 */
import { UserError } from '../errors.js';
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/index.js';
import { createWebGpuBackend } from './webgpu/backend.js';

export type DeviceName = 'cpu' | 'webgpu';
export const DEVICE_NAMES: readonly DeviceName[] = ['cpu', 'webgpu'];

/**
 * A backend on `device`. WebGPU opens `navigator.gpu` in browsers and Dawn (the `webgpu`
 * package) in Node; when no adapter can be found it fails with a one-line UserError.
 */
export async function createBackend(device: DeviceName): Promise<Backend> {
  if (device === 'cpu') return new CpuBackend();
  if (device !== 'webgpu') throw new UserError(`device '${String(device)}' is not one of ${DEVICE_NAMES.join(', ')}`);
  try {
    return await createWebGpuBackend();
  } catch (e) {
    const why = (e as Error).message.replace(/\s*\n\s*/g, ' ');
    throw new UserError(`device webgpu: no WebGPU device could be opened: ${why}`);
  }
}

/** Frees what a backend holds outside the JS heap: the GPU device (then Node can exit). Idempotent. */
export function releaseBackend(b: Backend): void {
  b.release();
}

/** A one-line description for logs: "cpu" or "webgpu (adapter name)". */
export function describeBackend(b: Backend): string {
  return b.description;
}
