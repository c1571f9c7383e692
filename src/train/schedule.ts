/**
 * The learning-rate schedule of the Mamba papers' GPT-3 recipe: linear warmup from 0, then cosine
 * decay to `minLr` at `totalSteps` (held there after). Steps count optimizer updates from 1.
 */
export interface Schedule {
  lr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
}

export function lrAt(step: number, s: Schedule): number {
  if (step <= s.warmupSteps) return (s.lr * step) / s.warmupSteps;
  if (step >= s.totalSteps) return s.minLr;
  const progress = (step - s.warmupSteps) / (s.totalSteps - s.warmupSteps);
  return s.minLr + 0.5 * (s.lr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}
