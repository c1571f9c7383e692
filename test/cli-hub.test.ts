/**
 * `--model org/name` through the built CLI against a loopback Hub (hub-server.ts) serving
 * test/fixtures/hf/mamba2-tiny: logits equal the fixture's reference, then again from the cache
 * with the server stopped; HTTP failures are one line with exit code 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.js';
import { maxAbsDiff } from './cpu-util.js';
import { cliAsync, FIXTURES, tempDir } from './cli-util.js';
import { startFakeHub } from './hub-server.js';

const DIR = `${FIXTURES}/hf/mamba2-tiny`;
const INPUT = `${DIR}/expected.safetensors`;
const SHA = 'fedcba9876543210fedcba9876543210fedcba98';
const TOL = 1e-4;
const want = readSafetensors(INPUT).get('logits')!;

/** The test's own environment for a child: nothing of the caller's Hub settings or token. */
function env(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HF_') && !k.startsWith('HUGGING')));
  return { ...base, HF_HOME: home, ...extra };
}

async function logitsError(args: string[], e: NodeJS.ProcessEnv): Promise<number> {
  const out = join(tempDir(), 'logits.safetensors');
  const r = await cliAsync(['logits', '--input', INPUT, '--out', out, ...args], e);
  assert.equal(r.code, 0, r.stderr);
  return maxAbsDiff(readSafetensors(out).get('logits')!.data, want.data);
}

test('logits --model org/name: downloaded, then from the cache with the server stopped', async (t) => {
  const hub = await startFakeHub({ 'org/mamba2-tiny': { dir: DIR, sha: SHA } });
  const home = tempDir();
  try {
    const err = await logitsError(['--model', 'org/mamba2-tiny', '--endpoint', hub.url], env(home));
    t.diagnostic(`max abs error ${err.toExponential(2)}`);
    assert.ok(err < TOL, `max abs error ${err}`);
    assert.ok(fs.existsSync(join(home, 'hub/models--org--mamba2-tiny/snapshots', SHA, 'model.safetensors')));
  } finally {
    await hub.close();
  }
  assert.ok(await logitsError(['--model', 'org/mamba2-tiny'], env(home, { HF_HUB_OFFLINE: '1', HF_ENDPOINT: hub.url })) < TOL);
  assert.ok(await logitsError(['--model', 'org/mamba2-tiny', '--revision', SHA, '--endpoint', hub.url], env(home)) < TOL);
  const info = await cliAsync(['info', '--model', 'org/mamba2-tiny'], env(home, { HF_HUB_OFFLINE: '1' }));
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /^model: +org\/mamba2-tiny\n/);
});

test('Hub failures are one line, exit code 2', async () => {
  const hub = await startFakeHub({ 'org/mamba2-tiny': { dir: DIR, sha: SHA } }, { token: 'hf_good' });
  const out = join(tempDir(), 'x.safetensors');
  const run = (model: string, e: NodeJS.ProcessEnv, ...more: string[]) =>
    cliAsync(['logits', '--model', model, '--input', INPUT, '--out', out, '--endpoint', hub.url, ...more], e);
  try {
    const cases: [Promise<{ code: number | null; stderr: string }>, RegExp][] = [
      [run('org/mamba2-tiny', env(tempDir(), { HF_TOKEN: 'hf_bad' })), /^mamba-ts: org\/mamba2-tiny@main: access denied \(HTTP 401 from http:\/\/127\.0\.0\.1:\d+\): HF_TOKEN was rejected/],
      [run('org/mamba2-tiny', env(tempDir(), { HF_TOKEN: 'hf_good' }), '--revision', 'v2'), /^mamba-ts: org\/mamba2-tiny@v2: revision "v2" not found \(HTTP 404/],
      [run('org/absent', env(tempDir(), { HF_TOKEN: 'hf_good', HF_HUB_OFFLINE: '1' })), /^mamba-ts: org\/absent@main: not in the cache .* and HF_HUB_OFFLINE is set$/],
      [run(DIR, env(tempDir())), /^mamba-ts: --endpoint applies to Hub repo ids, but --model .* is a local folder$/],
    ];
    for (const [pending, pattern] of cases) {
      const r = await pending;
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], pattern);
    }
    hub.knobs.token = undefined;
    const r = await run('org/absent', env(tempDir()));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mamba-ts: org\/absent@main: repository not found \(HTTP 404 from http:\/\/127\.0\.0\.1:\d+\); nor is --model org\/absent a local folder\n$/);
  } finally {
    await hub.close();
  }
});
