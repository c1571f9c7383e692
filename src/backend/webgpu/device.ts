/**
 * Finding a WebGPU device: `navigator.gpu` in browsers, Dawn's `webgpu` package in Node.
 * The device is opened with the adapter's own limits (the defaults cap storage bindings at
 * 128 MiB and workgroup memory at 16 KiB) and with `subgroups` when the adapter offers it.
 */

/**
 * GPUBufferUsage / GPUMapMode bits as the WebGPU spec fixes them. Node has no such globals unless
 * the caller copies Dawn's into globalThis, which a library should not do.
 */
export const Usage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;
export const MapModeRead = 0x0001;

export interface WebGpuOptions {
  /** Use subgroup operations in reductions when the adapter offers them (default true). */
  subgroups?: boolean;
  powerPreference?: GPUPowerPreference;
  /**
   * Ask for at most this many storage buffers per shader stage, below the adapter's limit: a
   * browser's (Chrome offers 10, the WebGPU default is 8), to run the kernels' fallbacks in Node.
   */
  maxStorageBuffers?: number;
}

/** What the kernels need to know about the device they run on. */
export interface DeviceInfo {
  device: GPUDevice;
  adapterName: string;
  subgroups: boolean;
  /** smallest subgroup the device may run (reductions size their partials by it) */
  subgroupMinSize: number;
  /** largest subgroup; equal to the smallest when the size is fixed (kernels may then rely on it) */
  subgroupMaxSize: number;
  /** timestamp queries (for the runtime's per-kernel profile) */
  timestamps: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupsPerDimension: number;
  minUniformBufferOffsetAlignment: number;
}

/**
 * Dawn's GPU object in Node, one per process and never released: if one is garbage-collected
 * while Dawn shuts down, the process crashes at exit. It keeps Node alive only while a device
 * made from it is alive, which `destroy()` ends.
 */
let nodeGpu: GPU | undefined;

async function findGpu(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (typeof process !== 'undefined' && process.versions?.node) {
    if (nodeGpu) return nodeGpu;
    // Imported lazily so that bundles for browsers never reach the native module.
    let mod: { create(flags: string[]): GPU };
    try {
      mod = await import('webgpu');
    } catch (e) {
      throw new Error(`WebGPU: the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}`);
    }
    // Timestamps are rounded to 65.5 µs by default (a browser's defence against timing attacks),
    // which would blur the profiler's per-kernel times. Robustness (Dawn clamping every storage
    // access in every shader) guards a browser against untrusted shaders; here every shader is
    // ours and checks its own bounds, and the clamps slow the load-heavy kernels markedly (see
    // bench/RESULTS.md), so Node turns it off, as
    // native Dawn users such as Chrome's Skia Graphite do; MAMBA_TS_WEBGPU_ROBUST=1 keeps it.
    // MAMBA_TS_DAWN_FLAGS adds Dawn flags, separated by ';', for experiments.
    const robust = process.env.MAMBA_TS_WEBGPU_ROBUST === '1';
    const flags = ['disable-dawn-features=timestamp_quantization', ...(robust ? [] : ['enable-dawn-features=disable_robustness']),
      ...(process.env.MAMBA_TS_DAWN_FLAGS?.split(';').filter((f) => f) ?? [])];
    nodeGpu ??= mod.create(flags);
    return nodeGpu;
  }
  throw new Error('WebGPU: this environment has no navigator.gpu');
}

const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
] as const;

export async function openDevice(options: WebGpuOptions = {}): Promise<DeviceInfo> {
  const gpu = await findGpu();
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new Error('WebGPU: no adapter (no GPU driver found; for a software device install a Vulkan driver such as SwiftShader and set VK_ICD_FILENAMES)');
  }
  const subgroups = (options.subgroups ?? true) && adapter.features.has('subgroups');
  const timestamps = adapter.features.has('timestamp-query');
  const requiredLimits: Record<string, number> = {};
  for (const k of REQUESTED_LIMITS) requiredLimits[k] = adapter.limits[k];
  if (options.maxStorageBuffers !== undefined) {
    requiredLimits.maxStorageBuffersPerShaderStage = Math.min(options.maxStorageBuffers, adapter.limits.maxStorageBuffersPerShaderStage);
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (subgroups) requiredFeatures.push('subgroups' as GPUFeatureName);
  if (timestamps) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const l = device.limits;
  const info: DeviceInfo = {
    device,
    adapterName: [adapter.info.vendor, adapter.info.architecture, adapter.info.device, adapter.info.description]
      .filter((s) => s).join(' '),
    subgroups,
    subgroupMinSize: adapter.info.subgroupMinSize || 4,
    subgroupMaxSize: adapter.info.subgroupMaxSize || 128,
    timestamps,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    minUniformBufferOffsetAlignment: l.minUniformBufferOffsetAlignment,
  };
  return info;
}
