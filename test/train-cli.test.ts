import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runTrain } from '../src/cli/train.js';
import { UserError } from '../src/errors.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mamba-ts-cli-'));

const here = path.dirname(fileURLToPath(import.meta.url));

/** Runs `runTrain` / `runEval` in a child process (its own stdout), as main.ts would. */
function capture(command: 'train' | 'eval', argv: string[]): { code: number; out: string } {
  const module = path.join(here, '..', 'src', 'cli', `${command}.js`);
  const fn = command === 'train' ? 'runTrain' : 'runEval';
  const script = `import(${JSON.stringify(module)}).then((m) => m.${fn}(${JSON.stringify(argv)})).then((c) => { process.exitCode = c; });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { code: r.status ?? -1, out: r.stdout };
}

const tiny = ['--d-model', '16', '--d-state', '4', '--head-dim', '8', '--batch-size', '2', '--eval-batches', '1', '--no-progress'];

test('train then eval through the CLI: run.json options, --seq-len beyond training, one JSON line', async () => {
  const dir = path.join(tmp(), 'run');
  const trained = capture('train', ['--out', dir, '--task', 'induction-heads', '--task-options', 'vocab=8', '--seq-len', '12',
    '--steps', '2', ...tiny]);
  assert.equal(trained.code, 0);
  const summary = JSON.parse(trained.out);
  assert.deepEqual([summary.status, summary.step, summary.tokens], ['completed', 2, 2 * 2 * 12]);
  for (const f of ['model.safetensors', 'config.json', 'metrics.jsonl', 'summary.json', 'plot.svg', 'train-state.safetensors', 'run.json']) {
    assert.ok(fs.existsSync(path.join(dir, f)), f);
  }
  const ev = capture('eval', ['--model', dir, '--task', 'induction-heads', '--seq-len', '40', '--batches', '2', '--batch-size', '3']);
  const r = JSON.parse(ev.out);
  assert.deepEqual([r.task, r.length, r.options.vocab, r.sequences], ['induction-heads', 40, 8, 6]);
  assert.ok(r.accuracy >= 0 && r.accuracy <= 1 && Number.isFinite(r.loss));
  assert.equal(ev.out.trim().split('\n').length, 1);
  // --resume takes the saved run; only --steps may change it
  await assert.rejects(runTrain(['--resume', dir, '--lr', '1']), /--lr: --resume continues the saved run/);
  await assert.rejects(runTrain(['--resume', dir, '--steps', '1']), /--steps 1: the checkpoint is already at step 2/);
  const more = capture('train', ['--resume', dir, '--steps', '3', '--no-progress']);
  assert.equal(JSON.parse(more.out).step, 3);
  await assert.rejects(runTrain(['--out', dir, '--task', 'mqar']), /holds a training run already; continue it with --resume/);
});

test('train flag errors are UserErrors naming the flag, file or layer', async () => {
  const dir = tmp();
  const out = ['--out', path.join(dir, 'o')];
  const rejects = (argv: string[], re: RegExp) => assert.rejects(runTrain(argv), (e: unknown) => e instanceof UserError && re.test(e.message));
  await rejects([...out, '--layers', 'mamba2*2,mamba3', '--task', 'mqar'], /^--layers: unknown layer type "mamba3" \(known: mamba1, mamba2, attention/);
  await rejects([...out, '--layers', 'mamba1,mamba2', '--task', 'mqar'], /Mamba-1 and Mamba-2 layers cannot be mixed/);
  await rejects([...out, '--preset', 'mamba-130m', '--layers', 'mamba1', '--task', 'mqar'], /--preset and --layers both describe the architecture/);
  const cfg = path.join(dir, 'config.json');
  fs.writeFileSync(cfg, JSON.stringify({ d_model: 16, n_layer: 2, ssm_cfg: { layer: 'Mamba3' } }));
  await rejects([...out, '--config', cfg, '--task', 'mqar'], /ssm_cfg.*layer.*must be "Mamba1" or "Mamba2"/);
  const jsonl = path.join(dir, 'd.jsonl');
  fs.writeFileSync(jsonl, '{"text": "fine"}\nnot json\n');
  await rejects([...out, '--data', jsonl, ...tiny], new RegExp(`^${jsonl}:2: not JSON`));
  await rejects([...out, '--task', 'mqar', '--tokenizer', jsonl], /--tokenizer is for text data/);
  await rejects([...out, '--task', 'mqar', '--task-options', 'keys=3'], /task mqar has no option "keys"/);
  await rejects(['--task', 'mqar'], /--out is required/);
});
