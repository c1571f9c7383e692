import type { Backend } from '../backend/backend.js';
import { UserError } from '../errors.js';
import { readCheckpoint } from '../io/checkpoint.js';
import { describeValue } from './args.js';
import { MambaLM } from './lm.js';
import { expectedShapes } from './params.js';
import { uploadWeights } from './weights.js';

/**
 * Loads a model folder (Hugging Face or mamba_ssm checkpoint, see io/checkpoint.ts) onto
 * `backend`. Weights that disagree with config.json fail with a UserError naming the parameter.
 */
export async function loadModel(dir: string, backend: Backend): Promise<MambaLM> {
  if (typeof dir !== 'string' || dir === '') throw new UserError(`loadModel(dir): expected the path of a model folder, got ${describeValue(dir)}`);
  if (typeof (backend as Partial<Backend> | undefined)?.uploadWeight !== 'function') {
    throw new UserError(`loadModel(dir, backend): expected a backend (await createBackend('cpu' | 'webgpu')), got ${describeValue(backend)}`);
  }
  const { config, weights } = readCheckpoint(dir, expectedShapes);
  return new MambaLM(config, uploadWeights(weights, backend), backend);
}
