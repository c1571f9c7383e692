export { Xoshiro128 } from '../rng.js';
export {
  samplingDistribution, sampleToken, drawFrom, argmax, checkSamplingOptions, type SamplingOptions, type Distribution,
} from './sampling.js';
export {
  generate, generateAll, Generation, tokensPerSecond, type GenerateOptions, type GenerationStep, type GenerationStats,
} from './generate.js';
