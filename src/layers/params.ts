import type { Tensor } from '../tensor.js';

/**
 * A view of the model's weights under a name prefix ("layers.3.mixer."), so a layer asks for
 * "in_proj.weight" and the error for a missing one names the full canonical key.
 */
export class ParamScope {
  constructor(private readonly weights: ReadonlyMap<string, Tensor>, readonly prefix = '') {}

  get(name: string): Tensor {
    const t = this.weights.get(this.prefix + name);
    if (!t) throw new Error(`missing parameter ${this.prefix + name}`);
    return t;
  }

  /** For parameters a config may leave out (biases). */
  opt(name: string): Tensor | undefined {
    return this.weights.get(this.prefix + name);
  }

  scope(sub: string): ParamScope {
    return new ParamScope(this.weights, `${this.prefix}${sub}.`);
  }
}
