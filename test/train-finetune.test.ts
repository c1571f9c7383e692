import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpoint } from '../src/io/checkpoint.js';
import { readJsonFile } from '../src/io/files.js';
import { Mulberry32 } from '../src/rng.js';
import { cliAsync, FIXTURES, tempDir } from './cli-util.js';

/** a small text of a few words, its held-out part from the same distribution */
function corpus(dir: string): { train: string; heldOut: string } {
  const words = 'the state space model keeps what matters and forgets the rest'.split(' ');
  const rng = new Mulberry32(9);
  const text = (lines: number) => Array.from({ length: lines }, () => Array.from({ length: 10 }, () => words[rng.int(words.length)]).join(' ')).join('\n') + '\n';
  const train = path.join(dir, 'train.txt'), heldOut = path.join(dir, 'held-out.txt');
  fs.writeFileSync(train, text(150));
  fs.writeFileSync(heldOut, text(30));
  return { train, heldOut };
}

const evalText = async (model: string, data: string) => {
  const r = await cliAsync(['eval', '--model', model, '--data', data, '--seq-len', '32', '--batches', '2', '--batch-size', '8']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { loss: number; perplexity: number; bitsPerByte: number; tokens: number };
};

for (const [fixture, format] of [['hf/mamba2-tiny', 'hf'], ['mamba_ssm/ms-mamba1', 'mamba_ssm']] as const) {
  test(`train --init ${fixture}: the fine-tune lowers the held-out loss and saves in the source's format`, async () => {
    const dir = tempDir();
    const { train, heldOut } = corpus(dir);
    const source = path.join(FIXTURES, fixture), out = path.join(dir, 'out');
    const before = await evalText(source, heldOut);
    // byte-level text (the fixtures have no tokenizer.json): bits per byte are the loss in bits
    assert.ok(Math.abs(before.bitsPerByte - before.loss / Math.LN2) < 1e-9);
    assert.ok(Math.abs(before.perplexity - Math.exp(before.loss)) < 1e-9);
    const r = await cliAsync(['train', '--init', source, '--data', train, '--seq-len', '32', '--steps', '25', '--batch-size', '4',
      '--lr', '3e-3', '--eval-every', '25', '--no-progress', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const after = await evalText(out, heldOut);
    assert.ok(after.loss < before.loss - 1, `held-out loss ${before.loss} -> ${after.loss}`);
    const ck = readCheckpoint(out);
    assert.equal(ck.format, format);
    assert.deepEqual(ck.config, readCheckpoint(source).config);
    assert.deepEqual(Object.keys(readJsonFile(path.join(out, 'config.json')) as object), Object.keys(readJsonFile(path.join(source, 'config.json')) as object));
    // a resumed fine-tune still saves in that format
    const more = await cliAsync(['train', '--resume', out, '--steps', '26', '--no-progress']);
    assert.equal(more.code, 0, more.stderr);
    assert.equal(readCheckpoint(out).format, format);
  });
}

test('train --init refuses architecture flags, a missing folder; eval needs one of --task and --data', async () => {
  const source = path.join(FIXTURES, 'hf/mamba2-tiny');
  const out = path.join(tempDir(), 'out');
  let r = await cliAsync(['train', '--init', source, '--layers', 'mamba1*2', '--out', out]);
  assert.deepEqual([r.code, r.stderr.trim()], [2, 'mamba-ts: --layers: the architecture of a fine-tune comes from the --init checkpoint; leave --layers out']);
  r = await cliAsync(['train', '--init', path.join(out, 'nope'), '--out', out]);
  assert.deepEqual([r.code, r.stderr.trim()], [2, `mamba-ts: --init ${path.join(out, 'nope')}: folder not found`]);
  r = await cliAsync(['eval', '--model', source]);
  assert.deepEqual([r.code, r.stderr.trim()], [2, 'mamba-ts: give one of --task NAME or --data PATH']);
  assert.ok(!fs.existsSync(out));
});
