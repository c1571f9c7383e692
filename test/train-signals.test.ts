import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readTrainState } from '../src/train/train-state.js';
import { cliAsync, cliChild, tempDir } from './cli-util.js';

// steps of a few hundred ms on this CPU, so that a signal lands inside one
const RUN = ['train', '--task', 'induction-heads', '--task-options', 'vocab=8,length=64', '--layers', 'mamba2', '--d-model', '32',
  '--batch-size', '12', '--steps', '6', '--eval-every', '3', '--eval-batches', '1', '--log-every', '1', '--seed', '3', '--no-progress'];

// runs that end by a signal: long enough that no load on the machine lets them finish first
const LONG = RUN.map((a, i) => (RUN[i - 1] === '--steps' ? '10000' : a));

const metricSteps = (dir: string): number[] => {
  const file = path.join(dir, 'metrics.jsonl');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).step as number) : [];
};
const lastStep = (dir: string) => metricSteps(dir).at(-1) ?? -1;

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1200 && !cond(); i++) await sleep(25);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

const withoutSpeed = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')
  .map((l) => { const { tokensPerSecond: _, ...r } = JSON.parse(l); return r; });

test('Ctrl-C stops at the end of the running step with a checkpoint (exit 130); --resume ends bit-exactly as an uninterrupted run', async () => {
  const whole = path.join(tempDir(), 'whole'), split = path.join(tempDir(), 'split');
  const a = cliAsync([...RUN, '--out', whole]);
  const b = cliChild([...RUN, '--out', split, '--checkpoint-every', '1h']);
  await until('step 1 of the split run', () => lastStep(split) >= 1);
  const before = lastStep(split);
  b.child.kill('SIGINT');
  const after = lastStep(split);
  const r = await b.done;
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /SIGINT: stopping at the end of this step and writing a checkpoint/);
  const stopped = readTrainState(split).meta.step;
  // the step that was running when the signal came (or the one just finished), never a later one
  assert.ok(stopped >= after && stopped <= before + 1 && stopped < 6, `stopped at ${stopped}, signal after step ${before}..${after}`);
  assert.equal(lastStep(split), stopped);
  assert.equal(JSON.parse(r.stdout).status, 'interrupted');
  assert.ok(!fs.existsSync(path.join(split, 'train.lock')));
  const c = await cliAsync(['train', '--resume', split, '--no-progress']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal((await a).code, 0);
  assert.deepEqual(fs.readFileSync(path.join(split, 'model.safetensors')), fs.readFileSync(path.join(whole, 'model.safetensors')));
  assert.deepEqual(withoutSpeed(split), withoutSpeed(whole));
  assert.deepEqual(metricSteps(whole), [0, 1, 2, 3, 4, 5, 6]);
  // summary.json covers the whole run; a --resume of a finished run leaves it alone
  const summary = fs.readFileSync(path.join(split, 'summary.json'));
  assert.ok(JSON.parse(summary.toString()).seconds > readTrainState(split).meta.seconds - 1e-9);
  const d = await cliAsync(['train', '--resume', split]);
  assert.equal(d.code, 0);
  assert.equal(d.stderr, `mamba-ts: ${split}: the run finished at step 6; nothing to do (give --steps to extend it)\n`);
  assert.deepEqual(fs.readFileSync(path.join(split, 'summary.json')), summary);
});

test('a second run on a locked folder is refused naming it and the pid; SIGTERM checkpoints and exits 143', async () => {
  const dir = path.join(tempDir(), 'run');
  const a = cliChild([...LONG, '--out', dir, '--checkpoint-every', '1h']);
  await until('step 0', () => lastStep(dir) >= 0);
  const b = await cliAsync([...RUN, '--out', dir]);
  assert.equal(b.code, 2);
  assert.equal(b.stderr.trim(), `mamba-ts: ${dir}: another training run (pid ${a.child.pid}) is using this folder; wait for it to end or use another --out`);
  a.child.kill('SIGTERM');
  const r = await a.done;
  assert.equal(r.code, 143, r.stderr);
  assert.equal(readTrainState(dir).meta.step, lastStep(dir));
  assert.ok(!fs.existsSync(path.join(dir, 'train.lock')));
});

test('a second Ctrl-C quits at once (exit 130) and leaves the last checkpoint whole', async () => {
  const dir = path.join(tempDir(), 'run');
  const a = cliChild([...LONG, '--out', dir, '--checkpoint-every', '1']);
  await until('a checkpoint', () => fs.existsSync(path.join(dir, 'train-state.safetensors')) && lastStep(dir) >= 1);
  a.child.kill('SIGINT');
  await sleep(5);
  a.child.kill('SIGINT');
  const r = await a.done;
  assert.equal(r.code, 130);
  assert.match(r.stderr, /SIGINT again: quitting without a checkpoint of this step/);
  const st = readTrainState(dir);
  assert.ok(st.meta.step >= 1 && st.meta.step <= lastStep(dir), `checkpoint of step ${st.meta.step}`);
  assert.ok(!fs.existsSync(path.join(dir, 'train.lock')));
});
