/** mamba-ts public API. */
export { Tensor, type DType, type HostArray } from './tensor.js';
export type { Backend, SelectiveScanArgs, SsdArgs } from './backend/backend.js';
export { CpuBackend } from './backend/cpu/index.js';
export { createWebGpuBackend, WebGpuBackend, type WebGpuOptions } from './backend/webgpu/backend.js';
export { createBackend, releaseBackend, describeBackend, DEVICE_NAMES, type DeviceName } from './backend/open.js';
export { greedyTokens } from './backend/index.js';
export { disposeExcept, keep, tidy } from './backend/scope.js';
export { UserError } from './errors.js';

export {
  paddedVocab, type ModelConfig, type LayerConfig, type MixerConfig, type Mamba1Config, type Mamba2Config,
  type AttentionConfig, type MlpConfig,
} from './config.js';
export { MambaLM, DEFAULT_MAX_LEN } from './model/lm.js';
export { ModelState } from './model/state.js';
export { expectedShapes, checkWeights } from './model/params.js';
export { preset, PRESET_NAMES, randomWeights, type PresetName } from './model/presets.js';
export { loadModel } from './model/load.js';
export { uploadWeights } from './model/weights.js';

export * as ops from './ops/index.js';
export {
  Block, RmsNorm, Mlp, Mamba1Mixer, Mamba2Mixer, AttentionMixer, ParamScope,
  type Mixer, type MixerState, type Mamba1State, type Mamba2State, type AttentionState,
} from './layers/index.js';

export {
  generate, generateAll, Generation, tokensPerSecond, Xoshiro128, Xoshiro128 as Rng, samplingDistribution, sampleToken, drawFrom, argmax,
  checkSamplingOptions, type GenerateOptions, type GenerationStep, type GenerationStats, type SamplingOptions, type Distribution,
} from './generate/index.js';
export { ByteTokenizer, HfTokenizer, loadTokenizer, TextStream, type Tokenizer } from './text/index.js';
