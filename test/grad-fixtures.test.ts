import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { valueAndGrad } from '../src/autograd/index.js';
import { readCheckpoint } from '../src/io/checkpoint.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { MambaLM } from '../src/model/lm.js';
import { uploadWeights } from '../src/model/weights.js';
import * as ops from '../src/ops/index.js';
import { cpu, host, maxAbsDiff } from './cpu-util.js';
import { FIXTURES } from './model-util.js';

const TOL = 1e-4;

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

for (const name of ['hf/mamba1-tiny', 'hf/mamba1-tied-residual32', 'hf/mamba2-tiny', 'hf/nemotronh-tiny']) {
  test(`${name}: loss and every parameter gradient match the float64 reference`, (t) => {
    const dir = join(FIXTURES, name);
    const ckpt = readCheckpoint(dir);
    const expected = readSafetensors(join(dir, 'expected.safetensors'));
    const model = new MambaLM(ckpt.config, uploadWeights(ckpt.weights, cpu), cpu);
    const idsHost = expected.get('input_ids')!;
    const [B, L] = idsHost.shape;
    // logits[:, :-1] against ids[:, 1:]: the last position's target is ignored
    const targets = new Int32Array(B * L).fill(-1);
    for (let b = 0; b < B; b++) for (let l = 0; l + 1 < L; l++) targets[b * L + l] = idsHost.data[b * L + l + 1];
    const ids = cpu.upload(idsHost.data, [B, L]);
    const { loss, grads } = valueAndGrad(
      () => ops.crossEntropy(model.forward(ids).logits, cpu.upload(targets, [B, L])),
      model.parameters(),
    );
    const lossErr = Math.abs(host(loss)[0] - expected.get('loss')!.data[0]);
    assert.ok(lossErr < TOL * Math.abs(expected.get('loss')!.data[0]), `loss error ${lossErr}`);

    const wanted = [...expected.keys()].filter((k) => k.startsWith('grad.'));
    assert.equal(grads.size, wanted.length, 'one gradient per fixture grad.* entry');
    let worst = 0;
    let worstName = '';
    for (const [canonical, g] of grads) {
      // the fixtures name gradients as named_parameters() does: NemotronH's backbone is `model.` there, `backbone.` in the file
      const key = ckpt.checkpointNames.get(canonical)!;
      const ref = expected.get(`grad.${key}`) ?? expected.get(`grad.${key.replace(/^backbone\./, 'model.')}`);
      assert.ok(ref, `fixture has no gradient for ${canonical}`);
      assert.equal(g.size, ref.data.length, canonical);
      const rel = maxAbsDiff(host(g), ref.data) / maxAbs(ref.data);
      if (rel > worst) [worst, worstName] = [rel, canonical];
      assert.ok(rel < TOL, `${canonical}: relative error ${rel}`);
    }
    t.diagnostic(`loss error ${lossErr.toExponential(2)}; worst gradient ${worstName} ${worst.toExponential(2)}`);
  });
}
