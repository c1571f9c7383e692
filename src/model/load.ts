import type { Backend } from '../backend/backend.js';
import { readCheckpoint } from '../io/checkpoint.js';
import { MambaLM } from './lm.js';
import { expectedShapes } from './params.js';
import { uploadWeights } from './weights.js';

/**
 * Loads a model folder (Hugging Face or mamba_ssm checkpoint, see io/checkpoint.ts) onto
 * `backend`. Weights that disagree with config.json fail with a UserError naming the parameter.
 */
export async function loadModel(dir: string, backend: Backend): Promise<MambaLM> {
  const { config, weights } = readCheckpoint(dir, expectedShapes);
  return new MambaLM(config, uploadWeights(weights, backend), backend);
}
