/**
 * `--device` for every command: the CPU, or WebGPU (Dawn's `webgpu` package in Node; any adapter
 * it finds, a software one such as SwiftShader included). A command opens the backend once and
 * closes it in `finally`, on errors too: a live Dawn device would keep Node running after the
 * command has finished. Without an adapter, opening fails with a one-line UserError; Dawn itself
 * may print its reasons (e.g. "Warning: vkCreateInstance: Found no drivers!") to stderr before
 * it, natively, where no JavaScript can catch them.
 */
import { createBackend, describeBackend, DEVICE_NAMES, releaseBackend, type DeviceName } from '../backend/open.js';
import type { Backend } from '../backend/backend.js';
import type { FlagSpec } from './flags.js';

export const deviceFlag = {
  kind: 'string', value: 'NAME', help: 'where the math runs; webgpu: a GPU through Dawn', default: 'cpu', choices: DEVICE_NAMES,
} as const satisfies FlagSpec;

export interface OpenBackend {
  backend: Backend;
  /** "cpu" or "webgpu (adapter name)" */
  description: string;
  /** releases the device (then Node can exit); idempotent */
  close(): void;
}

/** `device` is one of DEVICE_NAMES (the flag parser checked it). */
export async function openBackend(device: string): Promise<OpenBackend> {
  const backend = await createBackend(device as DeviceName);
  return { backend, description: describeBackend(backend), close: () => releaseBackend(backend) };
}
