import { hasGradKernels, type Backend, type GradKernels } from '../backend/backend.js';

/** The backend's training kernels, or a clear error for a backend that has none yet. */
export function gradKernels(be: Backend): Backend & GradKernels {
  if (!hasGradKernels(be)) throw new Error(`the ${be.name} backend has no backward kernels yet; train on the CPU`);
  return be;
}
