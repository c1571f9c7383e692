/**
 * A model repo of the Hugging Face Hub (`org/name`) into the local cache (cache.ts), returning its
 * snapshot folder, which loads like any model folder. Only what loading needs is downloaded:
 * config.json, the weights the loader would pick (io/checkpoint.ts order; the shards an index
 * lists) and the tokenizer and generation files.
 *
 * - A commit revision whose snapshot is loadable opens no connection at all.
 * - A branch or tag is re-resolved with one listing request (`GET /api/models/{repo}/revision/{rev}`,
 *   giving the commit and the file list); files already in the snapshot are not fetched again.
 *   When the Hub cannot be reached, the snapshot refs/{rev} points to is used, with a note.
 * - HF_HUB_OFFLINE=1: the cache only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../errors.js';
import { asObject } from '../fields.js';
import { readJsonFile } from '../files.js';
import { parseJson } from '../json.js';
import { downloadBlob, type DownloadProgress } from './blob.js';
import { COMMIT, hubCacheDir, isLoadable, linkSnapshotFile, readRef, repoCacheDir, WEIGHT_FILES, writeRef } from './cache.js';
import { HubUnreachable, hubGet, hubSettings, statusError, type HubSettings } from './http.js';

export type { DownloadProgress } from './blob.js';
export { RepoNotFound } from './http.js';

export interface HubOptions {
  /** branch, tag or commit; default main */
  revision?: string;
  /** server; default $HF_ENDPOINT, else https://huggingface.co */
  endpoint?: string;
  /** the environment to read HF_* from; default process.env */
  env?: NodeJS.ProcessEnv;
  progress?: DownloadProgress;
  /** told when the cache stands in for an unreachable Hub */
  note?: (message: string) => void;
}

/** The files besides config.json and the weights, when the repo has them. */
const EXTRA_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'];

/** Hub repo ids: `org/name`, letters, digits, `-_.`, no `--` or `..`, at most 96 characters per part. */
export function isRepoId(arg: string): boolean {
  const parts = arg.split('/');
  return parts.length === 2 && parts.every((p) => /^[A-Za-z0-9]([\w.-]{0,94}[A-Za-z0-9_])?$/.test(p) && !p.includes('--') && !p.includes('..'));
}

export async function downloadModel(repo: string, opts: HubOptions = {}): Promise<string> {
  if (!isRepoId(repo)) throw new UserError(`"${repo}" is not a Hub repo id (org/name)`);
  const env = opts.env ?? process.env;
  const revision = opts.revision ?? 'main';
  if (revision === '' || revision.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new UserError(`--revision: "${revision}" is not a branch, tag or commit`);
  }
  const hub = hubSettings(env, opts.endpoint);
  const repoDir = repoCacheDir(hubCacheDir(env), repo);
  const what = `${repo}@${revision}`;
  const cachedCommit = COMMIT.test(revision) ? revision : readRef(repoDir, revision);
  const cached = cachedCommit && path.join(repoDir, 'snapshots', cachedCommit);
  if (cached && isLoadable(cached) && (hub.offline || cachedCommit === revision)) return cached;
  if (hub.offline) throw new UserError(`${what}: not in the cache ${repoDir} and HF_HUB_OFFLINE is set`);

  let listing: Listing;
  try {
    listing = await listRevision(hub, repo, revision, what);
  } catch (e) {
    if (!(e instanceof HubUnreachable) || !cached || !isLoadable(cached)) throw e;
    opts.note?.(`${e.message}; using the cached snapshot ${cachedCommit}`);
    return cached;
  }
  const snapshot = path.join(repoDir, 'snapshots', listing.sha);
  const fetchFile = async (file: string) => {
    if (fs.existsSync(path.join(snapshot, file))) return;
    const url = `${hub.endpoint}/${repo}/resolve/${listing.sha}/${file.split('/').map(encodeURIComponent).join('/')}`;
    const blob = await downloadBlob(hub, url, `${repo}/${file}`, repoDir, opts.progress);
    linkSnapshotFile(repoDir, listing.sha, file, blob);
  };
  const has = (f: string) => listing.files.has(f);
  if (!has('config.json')) throw new UserError(`${what}: the repo has no config.json (not a model mamba-ts can load)`);
  const weights = WEIGHT_FILES.find(has);
  if (!weights) throw new UserError(`${what}: the repo has none of ${WEIGHT_FILES.join(', ')}`);
  await fetchFile(weights);
  if (weights.endsWith('.index.json')) {
    for (const shard of shardFiles(path.join(snapshot, weights), listing.files, what)) await fetchFile(shard);
  }
  for (const file of EXTRA_FILES.filter(has)) await fetchFile(file);
  // last: a snapshot with config.json is complete (isLoadable)
  await fetchFile('config.json');
  if (revision !== listing.sha) writeRef(repoDir, revision, listing.sha);
  return snapshot;
}

interface Listing {
  sha: string;
  files: Set<string>;
}

async function listRevision(hub: HubSettings, repo: string, revision: string, what: string): Promise<Listing> {
  const url = `${hub.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
  const { res } = await hubGet(hub, url, what);
  if (!res.ok) throw await statusError(res, hub, what, revision);
  const source = `${url} (listing of ${what})`;
  const json = asObject(parseJson(await res.text(), source), source);
  if (typeof json.sha !== 'string' || !COMMIT.test(json.sha)) throw new UserError(`${source}: field "sha" is not a commit hash`);
  const siblings = Array.isArray(json.siblings) ? json.siblings : [];
  const files = new Set<string>();
  for (const s of siblings) {
    const name = (s as { rfilename?: unknown } | null)?.rfilename;
    if (typeof name === 'string' && isSafeRelative(name)) files.add(name);
  }
  return { sha: json.sha, files };
}

/** The shard files a `*.index.json` at the repo's top names; each must be listed in the repo. */
function shardFiles(index: string, files: Set<string>, what: string): string[] {
  const map = asObject(readJsonFile(index), index).weight_map;
  if (typeof map !== 'object' || map === null) throw new UserError(`${index}: field "weight_map" must map tensor names to shard files`);
  const shards = new Set(Object.values(map));
  for (const shard of shards) {
    if (typeof shard !== 'string' || !isSafeRelative(shard) || !files.has(shard)) {
      throw new UserError(`${index}: shard ${JSON.stringify(shard)} is not a file of ${what}`);
    }
  }
  return [...shards] as string[];
}

/** A repo path that stays inside the snapshot folder. */
function isSafeRelative(p: string): boolean {
  return p !== '' && !p.startsWith('/') && !p.includes('\\') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}
