export { corpusBleu, sentenceBleu, segmentStats, bleuFromStats, bleuTokens, type BleuScore, type BleuStats } from './bleu.js';
export { corpusChrf, sentenceChrf, type ChrfOptions } from './chrf.js';
export { scoreLine, scoreJson, SACREBLEU_VERSION, type Scored } from './signature.js';
export { tokenize13a } from './tokenizer-13a.js';
export { bleuByLength, DEFAULT_LENGTH_EDGES, type LengthBin } from './length-bins.js';
export { entityRecall, copyableEntities, trainingCounts, capitalizedEntities, BUCKETS, type EntityFinder, type EntityRecall } from './entity-recall.js';
