export { ParamScope } from './params.js';
export { RmsNorm } from './rms-norm.js';
export { Mlp, type MlpState } from './mlp.js';
export { Mamba1Mixer, type Mamba1State } from './mamba1.js';
export { Mamba2Mixer, type Mamba2State } from './mamba2.js';
export { AttentionMixer, attentionMlpWidth, type AttentionState } from './attention.js';
export { Block } from './block.js';
export type { Mixer, MixerState } from './mixer.js';
