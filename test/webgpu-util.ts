/**
 * Opening the WebGPU backend for tests. Without an adapter the tests skip, saying why, except in
 * CI (CI=true), where a missing adapter is a broken runner (.ci/run installs SwiftShader) and
 * must fail, not pass silently as skipped.
 */
import { createWebGpuBackend, type WebGpuBackend, type WebGpuOptions } from '../src/backend/webgpu/backend.js';

export async function openTestGpu(options: WebGpuOptions = {}): Promise<{ gpu: WebGpuBackend | undefined; skip: string | false }> {
  try {
    return { gpu: await createWebGpuBackend(options), skip: false };
  } catch (e) {
    const why = `no WebGPU device: ${(e as Error).message}`;
    if (process.env.CI) throw new Error(`${why} (CI=true: WebGPU tests must run in CI; is VK_ICD_FILENAMES set?)`);
    return { gpu: undefined, skip: why };
  }
}
