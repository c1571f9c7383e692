/** The op layer models call: `import * as ops from '../ops/index.js'`. */
export { linear, matmul, embedding } from './linear.js';
export { add, mul, silu, relu, gelu, softplus, exp } from './elementwise.js';
export { split, concat } from './shape.js';
export { rmsNorm, gatedRmsNorm, softmax, logSoftmax } from './norm.js';
export { crossEntropy } from './loss.js';
export { causalConv1d, selectiveScan, ssdChunked } from './ssm.js';
export { attention, rotary } from './attention.js';
export { writeAt, concatBatch, selectBatch } from './caches.js';
export { normLinear, mamba2Step } from './decode.js';
