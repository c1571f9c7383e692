/**
 * Log-probabilities of the model's own next-token distribution (log-softmax of the raw logits
 * over the tokenizer's vocabulary, before temperature and truncation, as vLLM reports them).
 */
export interface TokenLogprob {
  id: number;
  logprob: number;
  /** the `top` most likely ids, most likely first */
  top: { id: number; logprob: number }[];
}

/** `row`: one row of logits (at least `vocab` entries); `id`: the chosen token. */
export function tokenLogprob(row: ArrayLike<number>, vocab: number, id: number, top: number): TokenLogprob {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(row[i] - max);
  const logZ = max + Math.log(sum);
  const best: number[] = [];
  for (let i = 0; i < vocab && top > 0; i++) {
    if (best.length < top || row[i] > row[best[best.length - 1]]) {
      let at = best.length;
      while (at > 0 && row[i] > row[best[at - 1]]) at--;
      best.splice(at, 0, i);
      if (best.length > top) best.pop();
    }
  }
  return { id, logprob: row[id] - logZ, top: best.map((i) => ({ id: i, logprob: row[i] - logZ })) };
}
