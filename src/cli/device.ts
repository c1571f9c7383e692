/**
 * `--device` for every command. The WebGPU backend exists (src/backend/webgpu) but the CLI does
 * not open it yet: models do not yet release their intermediate GPU buffers, so a long generate
 * would exhaust device memory, and Dawn writes its own adapter diagnostics to stderr.
 */
import type { Backend } from '../backend/backend.js';
import { CpuBackend } from '../backend/cpu/index.js';
import { UserError } from '../errors.js';
import type { FlagSpec } from './flags.js';

export const DEVICES = ['cpu', 'webgpu'] as const;

export const deviceFlag = {
  kind: 'string', value: 'NAME', help: 'where the math runs', default: 'cpu', choices: DEVICES,
} as const satisfies FlagSpec;

export interface OpenBackend {
  backend: Backend;
  description: string;
  /** releases the device; call before exit */
  close(): void;
}

export function openBackend(device: string): OpenBackend {
  if (device === 'webgpu') {
    throw new UserError('--device webgpu: the WebGPU device is not wired into the CLI yet; use --device cpu');
  }
  return { backend: new CpuBackend(), description: 'cpu', close: () => {} };
}
