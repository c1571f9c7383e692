export { createWebGpuBackend, WebGpuBackend } from './backend.js';
export type { DeviceInfo, WebGpuOptions } from './device.js';
export { GpuTensor } from './memory.js';
