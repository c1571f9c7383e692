export { createWebGpuBackend, WebGpuBackend } from './backend.js';
export type { DeviceInfo, WebGpuOptions } from './device.js';
export { GpuTensor } from './buffer-pool.js';
export type { KernelTime } from './profiler.js';
export type { MatmulTuning } from './kernels/matmul.js';
