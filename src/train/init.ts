/**
 * Fresh weights for training come from `randomWeights` (model/presets.ts), which initializes as
 * mamba_ssm's MambaLMHeadModel does. This file holds the other half of mamba_ssm's parameter
 * setup: which parameters weight decay must not touch.
 */

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
