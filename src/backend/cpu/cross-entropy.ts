/**
 * Cross-entropy fused with log-softmax: logits never become log-probs in memory. When training,
 * the same pass that sums a row's exponentials also writes its gradient (softmax - onehot) / count,
 * so the backward is a scale by the incoming gradient instead of a second pass of exponentials.
 */
import type { Tensor } from '../../tensor.js';
import { f32, i32, rowsOf, wrapF32 } from './storage.js';

/**
 * logits [..., V], targets i32 [...] -> loss [] (mean over rows whose target is not ignoreIndex;
 * 0 when all are ignored) and, when `withGrad`, dlogits [..., V] = ∂loss/∂logits.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex: number, withGrad: boolean): { loss: Tensor; dlogits?: Tensor } {
  const { rows, cols: V } = rowsOf(logits);
  const x = f32(logits), tg = i32(targets);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = tg[r];
    if (t === ignoreIndex) continue;
    if (!(t >= 0 && t < V)) throw new RangeError(`crossEntropy: target ${t} outside [0, ${V}) in row ${r}`);
    count++;
  }
  const grad = withGrad ? new Float32Array(rows * V) : undefined;
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const t = tg[r];
    if (t === ignoreIndex) continue;
    const o = r * V;
    let m = -Infinity;
    for (let c = 0; c < V; c++) if (x[o + c] > m) m = x[o + c];
    let s = 0;
    if (grad) {
      for (let c = 0; c < V; c++) {
        const e = Math.exp(x[o + c] - m);
        grad[o + c] = e;
        s += e;
      }
      const scale = 1 / (s * count);
      for (let c = 0; c < V; c++) grad[o + c] *= scale;
      grad[o + t] -= 1 / count;
    } else {
      for (let c = 0; c < V; c++) s += Math.exp(x[o + c] - m);
    }
    sum += m + Math.log(s) - x[o + t];
  }
  const be = logits.backend;
  return {
    loss: wrapF32(be, [], Float32Array.of(count > 0 ? sum / count : 0)),
    dlogits: grad && wrapF32(be, logits.shape, grad),
  };
}

/** x [...] times the one value of s [] (or [1]) */
export function scaleBy(x: Tensor, s: Tensor): Tensor {
  const v = f32(s)[0];
  const src = f32(x);
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = v * src[i];
  return wrapF32(x.backend, x.shape, out);
}
