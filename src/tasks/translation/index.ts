export { countClause, dateClause, distanceClause, reportClause, type Clause } from './clauses.js';
export { inventName, namePool } from './names.js';
export {
  DEFAULT_TRANSLATION_TASK, SPLITS, translationSplits, writeTranslationSplits,
  type SplitName, type SplitSpec, type TranslationExample, type TranslationTaskOptions,
} from './splits.js';
