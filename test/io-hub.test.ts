/**
 * downloadModel against a Hub on loopback (hub-server.ts) serving test/fixtures/hf/mamba2-tiny:
 * the huggingface_hub cache layout on disk, cache hits without requests, offline mode, resumed and
 * restarted downloads, checksum and HTTP errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { downloadModel, isRepoId, type HubOptions } from '../src/io/hub/download.js';
import { readCheckpoint } from '../src/io/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { FIXTURES, tempDir } from './cli-util.js';
import { gitBlobSha1, sha256, startFakeHub } from './hub-server.js';

const DIR = `${FIXTURES}/hf/mamba2-tiny`;
const SHA = '0123456789abcdef0123456789abcdef01234567';
const REPO = 'org/mamba2-tiny';
const WEIGHTS = fs.readFileSync(join(DIR, 'model.safetensors'));
const WEIGHTS_ETAG = sha256(WEIGHTS);

function options(home: string, endpoint: string, extra: Partial<HubOptions> = {}, env: NodeJS.ProcessEnv = {}): HubOptions {
  return { endpoint, env: { HF_HOME: home, ...env }, ...extra };
}

const repoDir = (home: string) => join(home, 'hub', 'models--org--mamba2-tiny');

test('isRepoId accepts org/name and nothing path-like', () => {
  for (const id of ['state-spaces/mamba-130m-hf', 'state-spaces/mamba2-130m', 'a/b.c_d']) assert.ok(isRepoId(id), id);
  for (const id of ['mamba-130m', './x/y', 'a/b/c', '/a/b', 'a/..', 'a/b--c', '-a/b', 'a/b.']) assert.ok(!isRepoId(id), id);
});

test('downloads into the huggingface_hub cache layout; a second call fetches no file', async () => {
  const hub = await startFakeHub({ [REPO]: { dir: DIR, sha: SHA } });
  try {
    const home = tempDir();
    const snapshot = await downloadModel(REPO, options(home, hub.url));
    const repo = repoDir(home);
    assert.equal(snapshot, join(repo, 'snapshots', SHA));
    assert.equal(fs.readFileSync(join(repo, 'refs', 'main'), 'utf8'), SHA);
    assert.deepEqual(fs.readdirSync(snapshot).sort(), ['config.json', 'generation_config.json', 'model.safetensors']);
    assert.equal(fs.readlinkSync(join(snapshot, 'model.safetensors')), `../../blobs/${WEIGHTS_ETAG}`);
    const config = fs.readFileSync(join(DIR, 'config.json'));
    assert.equal(fs.readlinkSync(join(snapshot, 'config.json')), `../../blobs/${gitBlobSha1(config)}`);
    assert.ok(fs.readFileSync(join(snapshot, 'model.safetensors')).equals(WEIGHTS));
    assert.ok(fs.readFileSync(join(snapshot, 'config.json')).equals(config));
    assert.deepEqual(fs.readdirSync(join(repo, 'blobs')).filter((f) => f.endsWith('.incomplete')), []);
    // the LFS file came through the redirect to the CDN path
    assert.ok(hub.requests.some((r) => r.url === `/${REPO}/resolve/${SHA}/model.safetensors`));
    assert.ok(hub.requests.some((r) => r.url === `/cdn/${WEIGHTS_ETAG}`));

    hub.requests.length = 0;
    assert.equal(await downloadModel(REPO, options(home, hub.url)), snapshot);
    assert.deepEqual(hub.requests.map((r) => r.url), [`/api/models/${REPO}/revision/main`]);
  } finally {
    await hub.close();
  }
});

test('from the cache with the server gone: a pinned commit, a branch under HF_HUB_OFFLINE=1', async () => {
  const hub = await startFakeHub({ [REPO]: { dir: DIR, sha: SHA } });
  const home = tempDir();
  const snapshot = await downloadModel(REPO, options(home, hub.url));
  await hub.close();
  assert.equal(await downloadModel(REPO, options(home, hub.url, { revision: SHA })), snapshot);
  assert.equal(await downloadModel(REPO, options(home, hub.url, {}, { HF_HUB_OFFLINE: '1' })), snapshot);
  await assert.rejects(downloadModel('org/other', options(home, hub.url, {}, { HF_HUB_OFFLINE: '1' })),
    /^UserError: org\/other@main: not in the cache .*models--org--other and HF_HUB_OFFLINE is set$/);
  // a branch with the Hub unreachable falls back to the snapshot its ref names, and says so
  const notes: string[] = [];
  assert.equal(await downloadModel(REPO, options(home, hub.url, { note: (m) => notes.push(m) })), snapshot);
  assert.equal(notes.length, 1);
  assert.match(notes[0], /cannot reach http:\/\/127\.0\.0\.1:\d+ .*using the cached snapshot 0123/);
});

test('a connection dropped midway is resumed with a Range request', async () => {
  const hub = await startFakeHub({ [REPO]: { dir: DIR, sha: SHA } }, { cutAfter: 100_000, cuts: 2 });
  try {
    const home = tempDir();
    const starts: number[] = [];
    const progress = { start: (_: string, total: number | undefined, done: number) => {
      starts.push(total ?? -1, done);
      return { update: () => {}, done: () => {} };
    } };
    const snapshot = await downloadModel(REPO, options(home, hub.url, { progress }));
    assert.ok(fs.readFileSync(join(snapshot, 'model.safetensors')).equals(WEIGHTS));
    const cdn = hub.requests.filter((r) => r.url.startsWith('/cdn/')).map((r) => r.range);
    assert.deepEqual(cdn, [undefined, 'bytes=100000-', 'bytes=200000-']);
    assert.equal(starts[0], WEIGHTS.length);
    assert.equal(starts[1], 0);
  } finally {
    await hub.close();
  }
});

test('a partial file of an earlier run is resumed; 416 and an ignored Range start over', async () => {
  for (const [name, partial, knobs, ranges] of [
    ['resume', WEIGHTS.subarray(0, 12_345), {}, ['bytes=12345-']],
    ['416', Buffer.concat([WEIGHTS, Buffer.alloc(10)]), {}, [`bytes=${WEIGHTS.length + 10}-`, undefined]],
    ['ignored Range', Buffer.alloc(5000, 7), { ignoreRange: true }, ['bytes=5000-']],
  ] as const) {
    const hub = await startFakeHub({ [REPO]: { dir: DIR, sha: SHA } }, { ...knobs });
    try {
      const home = tempDir();
      fs.mkdirSync(join(repoDir(home), 'blobs'), { recursive: true });
      fs.writeFileSync(join(repoDir(home), 'blobs', `${WEIGHTS_ETAG}.incomplete`), partial);
      const snapshot = await downloadModel(REPO, options(home, hub.url));
      assert.ok(fs.readFileSync(join(snapshot, 'model.safetensors')).equals(WEIGHTS), name);
      // the first request to the CDN follows the resolve without a Range; the rest are the resume
      const cdn = hub.requests.filter((r) => r.url.startsWith('/cdn/')).map((r) => r.range);
      assert.deepEqual(cdn.slice(1), ranges, name);
    } finally {
      await hub.close();
    }
  }
});

test('a download whose sha256 differs from the LFS etag is deleted', async () => {
  const hub = await startFakeHub({ [REPO]: { dir: DIR, sha: SHA } }, { corrupt: true });
  try {
    const home = tempDir();
    await assert.rejects(downloadModel(REPO, options(home, hub.url)),
      new RegExp(`org/mamba2-tiny/model.safetensors: sha256 [0-9a-f]{64} of the download does not match the Hub's ${WEIGHTS_ETAG}`));
    assert.deepEqual(fs.readdirSync(join(repoDir(home), 'blobs')), []);
    assert.ok(!fs.existsSync(join(repoDir(home), 'snapshots', SHA, 'config.json')));
  } finally {
    await hub.close();
  }
});

test('HF_TOKEN goes as a bearer token; a wrong one, an unknown repo or revision are one clear line', async () => {
  const hub = await startFakeHub({ [REPO]: { dir: DIR, sha: SHA } }, { token: 'hf_good' });
  try {
    const home = tempDir();
    await downloadModel(REPO, options(home, hub.url, {}, { HF_TOKEN: 'hf_good' }));
    const hubRequests = hub.requests.filter((r) => !r.url.startsWith('/cdn/'));
    assert.ok(hubRequests.length >= 4);
    for (const r of hubRequests) assert.equal(r.authorization, 'Bearer hf_good', r.url);

    await assert.rejects(downloadModel(REPO, options(tempDir(), hub.url, {}, { HF_TOKEN: 'hf_bad' })),
      /^UserError: org\/mamba2-tiny@main: access denied \(HTTP 401 from http:\/\/127\.0\.0\.1:\d+\): HF_TOKEN was rejected/);
    await assert.rejects(downloadModel(REPO, options(tempDir(), hub.url)),
      /access denied \(HTTP 401 .*\): the repo is private or gated, or does not exist; set HF_TOKEN/);
    hub.knobs.token = undefined;
    await assert.rejects(downloadModel('org/nope', options(tempDir(), hub.url)), /^UserError: org\/nope@main: repository not found \(HTTP 404 from /);
    await assert.rejects(downloadModel(REPO, options(tempDir(), hub.url, { revision: 'v9' })), /^UserError: org\/mamba2-tiny@v9: revision "v9" not found \(HTTP 404/);
  } finally {
    await hub.close();
  }
});

test('an unreachable endpoint is one line naming it', async () => {
  const hub = await startFakeHub({});
  await hub.close();
  await assert.rejects(downloadModel(REPO, options(tempDir(), hub.url)),
    new RegExp(`^UserError: org/mamba2-tiny@main: cannot reach ${hub.url.replace(/\./g, '\\.')} \\(ECONNREFUSED\\)`));
});

test('sharded safetensors: the index and the shards it names, through a relative redirect', async () => {
  const dir = tempDir();
  const tensors = [...readSafetensors(join(DIR, 'model.safetensors'))];
  const half = tensors.length >> 1;
  const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  writeSafetensors(join(dir, shards[0]), new Map(tensors.slice(0, half)));
  writeSafetensors(join(dir, shards[1]), new Map(tensors.slice(half)));
  const weightMap = Object.fromEntries(tensors.map(([name], i) => [name, shards[i < half ? 0 : 1]]));
  fs.writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  fs.copyFileSync(join(DIR, 'config.json'), join(dir, 'config.json'));
  fs.writeFileSync(join(dir, 'pytorch_model.bin'), 'not needed: the safetensors index comes first');
  const hub = await startFakeHub({ [REPO]: { dir, sha: SHA } }, { relativeRedirect: true });
  try {
    const snapshot = await downloadModel(REPO, options(tempDir(), hub.url));
    assert.deepEqual(fs.readdirSync(snapshot).sort(), ['config.json', ...shards, 'model.safetensors.index.json']);
    assert.equal(hub.requests.filter((r) => r.url.startsWith('/cdn/')).length, 2);
    const got = readCheckpoint(snapshot).weights;
    const want = readCheckpoint(DIR).weights;
    assert.equal(got.size, want.size);
    for (const [name, t] of want) assert.deepEqual(got.get(name)!.data, t.data, name);
  } finally {
    await hub.close();
  }
});
