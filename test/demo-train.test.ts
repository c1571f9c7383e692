import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, tempDir } from './cli-util.js';

test('demo --steps 2: trains through train(), saves a loadable model, reports bits per byte, step = forward, a sample', () => {
  const out = path.join(tempDir(), 'demo');
  const r = cli('demo', '--steps', '2', '--out', out, '--new-tokens', '12', '--no-progress');
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['model.safetensors', 'config.json', 'metrics.jsonl', 'summary.json', 'plot.svg', 'train-state.safetensors']) {
    assert.ok(fs.existsSync(path.join(out, f)), f);
  }
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.deepEqual([summary.status, summary.step, summary.tokens], ['completed', 2, 2 * 16 * 128]);
  // two steps from random init: the loss is still near uniform over 256 bytes (ln 256 = 5.55)
  assert.ok(Number.isFinite(summary.loss) && summary.loss > 3 && summary.loss < 6.5, `loss ${summary.loss}`);

  const bits = /= (\d+\.\d+) bits per byte/.exec(r.stdout);
  assert.ok(bits, r.stdout);
  assert.equal(Number(bits[1]), Number((summary.loss / Math.LN2).toFixed(2)));
  const gap = /max \|logits difference\| (\S+) over 64 tokens/.exec(r.stdout);
  assert.ok(gap, r.stdout);
  assert.ok(Number(gap[1]) <= 1e-4, `step vs forward ${gap[1]}`);
  // the sample is the held-out prompt followed by 12 new bytes
  const prompt = JSON.parse(/^prompt \(held out\): +(".*")$/m.exec(r.stdout)![1]) as string;
  const sample = r.stdout.slice(r.stdout.indexOf('\n', r.stdout.indexOf('\nsample (') + 1) + 1);
  assert.ok(prompt.length > 10 && sample.startsWith(prompt), `${prompt} / ${sample}`);
});
