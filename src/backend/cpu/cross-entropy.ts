/**
 * Cross-entropy fused with log-softmax, forward and backward: logits never become log-probs in
 * memory, and the backward is softmax - onehot from the row's saved log-sum-exp.
 */
import type { Tensor } from '../../tensor.js';
import { expectShape, f32, i32, rowsOf, wrapF32 } from './storage.js';

function checkTargets(logits: Tensor, targets: Tensor): { rows: number; V: number } {
  const { rows, cols: V } = rowsOf(logits);
  expectShape('crossEntropy targets', targets, logits.shape.slice(0, -1));
  return { rows, V };
}

/** logits [..., V], targets i32 [...] -> loss [] (mean over rows not ignored), lse [...] */
export function crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex: number): { loss: Tensor; lse: Tensor } {
  const { rows, V } = checkTargets(logits, targets);
  const x = f32(logits), tg = i32(targets);
  const lse = new Float32Array(rows);
  let sum = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    let m = -Infinity;
    for (let c = 0; c < V; c++) if (x[o + c] > m) m = x[o + c];
    let s = 0;
    for (let c = 0; c < V; c++) s += Math.exp(x[o + c] - m);
    const l = m + Math.log(s);
    lse[r] = l;
    const t = tg[r];
    if (t === ignoreIndex) continue;
    if (!(t >= 0 && t < V)) throw new RangeError(`crossEntropy: target ${t} outside [0, ${V}) in row ${r}`);
    sum += l - x[o + t];
    count++;
  }
  // an all-ignored batch contributes nothing rather than 0/0
  const loss = Float32Array.of(count > 0 ? sum / count : 0);
  const lead = logits.shape.slice(0, -1);
  return { loss: wrapF32(logits.backend, [], loss), lse: wrapF32(logits.backend, lead, lse) };
}

/** -> dlogits [..., V] = dloss (softmax - onehot) / count on rows not ignored, else 0 */
export function crossEntropyBackward(logits: Tensor, targets: Tensor, lse: Tensor, ignoreIndex: number, dloss: Tensor): Tensor {
  const { rows, V } = checkTargets(logits, targets);
  const x = f32(logits), tg = i32(targets), l = f32(lse);
  let count = 0;
  for (let r = 0; r < rows; r++) if (tg[r] !== ignoreIndex) count++;
  const out = new Float32Array(rows * V);
  if (count === 0) return wrapF32(logits.backend, logits.shape, out);
  const scale = f32(dloss)[0] / count;
  for (let r = 0; r < rows; r++) {
    const t = tg[r];
    if (t === ignoreIndex) continue;
    const o = r * V;
    const m = l[r];
    for (let c = 0; c < V; c++) out[o + c] = scale * Math.exp(x[o + c] - m);
    out[o + t] -= scale;
  }
  return wrapF32(logits.backend, logits.shape, out);
}
