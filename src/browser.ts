/**
 * mamba-ts in browsers (`mamba-ts/browser`): the WebGPU backend on navigator.gpu, the models,
 * generation and byte-level text; nothing that needs Node (files, worker threads, tokenizer.json).
 * Weights come in as host tensors, e.g. parsed by the page from a fetched safetensors file.
 */
export { Tensor, type DType, type HostArray } from './tensor.js';
export type { Backend } from './backend/backend.js';
export { createWebGpuBackend, WebGpuBackend, type WebGpuOptions } from './backend/webgpu/backend.js';
export { keep, tidy } from './backend/scope.js';
export { UserError } from './errors.js';
export { paddedVocab, type ModelConfig } from './config.js';
export type { HostTensor } from './io/host-tensor.js';
export { fromHfConfig } from './io/hf-config.js';
export { fromMambaSsmConfig } from './io/mamba-ssm-config.js';
export { MambaLM } from './model/lm.js';
export { ModelState } from './model/state.js';
export { preset, randomWeights } from './model/presets.js';
export { uploadWeights } from './model/weights.js';
export { generate, generateAll, type GenerateOptions, type GenerationStep } from './generate/generate.js';
export { ByteTokenizer } from './text/byte-level.js';
