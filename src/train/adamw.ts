/**
 * The AdamW optimizer over a model's parameter map: moments m and v live beside the parameters
 * on their backend, and each update is one `Backend.adamw` call per parameter (in place).
 * Parameters that `noDecay` names get weight decay 0 (torch's two parameter groups).
 */
import type { HostTensor } from '../io/host-tensor.js';
import { markWritten, type Tensor } from '../tensor.js';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

/** What a checkpoint keeps: the update count and both moments by parameter name. */
export interface AdamWState {
  step: number;
  m: Map<string, HostTensor>;
  v: Map<string, HostTensor>;
}

export class AdamW {
  /** updates done so far */
  step = 0;
  private readonly m = new Map<string, Tensor>();
  private readonly v = new Map<string, Tensor>();

  constructor(private readonly params: ReadonlyMap<string, Tensor>, readonly opts: AdamWOptions) {
    for (const [name, p] of params) {
      this.m.set(name, p.backend.zeros(p.shape));
      this.v.set(name, p.backend.zeros(p.shape));
    }
  }

  /** One update of every parameter with its gradient times `gradScale` (clipping, accumulation). */
  update(grads: ReadonlyMap<string, Tensor>, lr: number, gradScale = 1): void {
    this.step++;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g) throw new Error(`AdamW: no gradient for ${name}`);
      p.backend.adamw(p, g, this.m.get(name)!, this.v.get(name)!, {
        lr, beta1: this.opts.beta1, beta2: this.opts.beta2, eps: this.opts.eps,
        weightDecay: noDecay(name) ? 0 : this.opts.weightDecay, step: this.step, gradScale,
      });
      markWritten(p);
    }
  }

  async state(): Promise<AdamWState> {
    const dump = async (src: Map<string, Tensor>) => {
      const out = new Map<string, HostTensor>();
      for (const [name, t] of src) out.set(name, { shape: [...t.shape], dtype: 'f32', data: await t.read() });
      return out;
    };
    return { step: this.step, m: await dump(this.m), v: await dump(this.v) };
  }

  /** Frees both moments (device memory); the optimizer is unusable after. */
  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }

  /** Restores a state saved by `state()` for the same parameters. */
  load(state: AdamWState): void {
    for (const [name, p] of this.params) {
      for (const [which, src, dst] of [['m', state.m, this.m], ['v', state.v, this.v]] as const) {
        const t = src.get(name);
        if (!t || t.data.length !== p.size) throw new Error(`AdamW state: ${which} of ${name} is missing or mis-sized`);
        dst.get(name)!.dispose();
        dst.set(name, p.backend.upload(t.data, p.shape));
      }
    }
    this.step = state.step;
  }
}

/**
 * True for the parameters trained without weight decay: the SSM parameters mamba_ssm marks
 * `_no_weight_decay` (A_log, D, Mamba-2's dt_bias) and Mamba-1's dt_proj.bias (decaying it would
 * pull Δ toward softplus(0) and undo the dt initialization), every norm weight and every bias.
 * Embeddings (and an untied lm_head) are decayed, as in mamba_ssm's training recipe.
 */
export function noDecay(name: string): boolean {
  const leaf = name.slice(name.lastIndexOf('.') + 1);
  if (leaf === 'A_log' || leaf === 'D' || leaf === 'dt_bias' || leaf === 'bias') return true;
  return /(^|\.)(norm|norm2|norm_f)\.weight$/.test(name);
}
