/**
 * The huggingface_hub cache layout, shared with the Python tools:
 *
 *   $HF_HUB_CACHE/models--{org}--{name}/
 *     blobs/{etag}                      file contents, named by the Hub's ETag (git sha1, or LFS sha256)
 *     blobs/{etag}.incomplete           a download in progress (resumed with a Range request)
 *     refs/{revision}                   the commit a branch or tag pointed to when last resolved
 *     snapshots/{commit}/{file}         -> ../../blobs/{etag}
 *
 * HF_HUB_CACHE defaults to $HF_HOME/hub, HF_HOME to $XDG_CACHE_HOME/huggingface or
 * ~/.cache/huggingface, as in huggingface_hub.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../errors.js';
import { writeTextAtomic } from '../files.js';

export const COMMIT = /^[0-9a-f]{40}$/;

export function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface');
}

export function hubCacheDir(env: NodeJS.ProcessEnv): string {
  return env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || path.join(hfHome(env), 'hub');
}

/** `org/name` -> the repo's folder in the cache. */
export function repoCacheDir(cache: string, repo: string): string {
  return path.join(cache, `models--${repo.replace('/', '--')}`);
}

export function readRef(repoDir: string, revision: string): string | undefined {
  const file = path.join(repoDir, 'refs', revision);
  if (!fs.existsSync(file)) return undefined;
  const sha = fs.readFileSync(file, 'utf8').trim();
  return COMMIT.test(sha) ? sha : undefined;
}

export function writeRef(repoDir: string, revision: string, sha: string): void {
  const file = path.join(repoDir, 'refs', revision);
  mkdirs(path.dirname(file));
  writeTextAtomic(file, sha);
}

/**
 * Whether a snapshot folder can be loaded without asking the Hub: config.json and weights are
 * there. The downloader writes config.json last, so a snapshot it made with config.json is whole;
 * one that a Python tool filled with config.json only is not taken for a model.
 */
export function isLoadable(snapshot: string): boolean {
  const has = (f: string) => fs.existsSync(path.join(snapshot, f));
  return has('config.json') && WEIGHT_FILES.some(has);
}

/** The weight files the loader looks for, in its order of preference (io/checkpoint.ts). */
export const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'];

/** snapshots/{commit}/{file} -> the blob, as a relative symlink; a copy where links are not allowed. */
export function linkSnapshotFile(repoDir: string, commit: string, file: string, blob: string): void {
  const pointer = path.join(repoDir, 'snapshots', commit, file);
  mkdirs(path.dirname(pointer));
  fs.rmSync(pointer, { force: true });
  try {
    fs.symlinkSync(path.relative(path.dirname(pointer), blob), pointer);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw cacheError(e, pointer);
    fs.copyFileSync(blob, pointer);
  }
}

export function mkdirs(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw cacheError(e, dir);
  }
}

/** A failed write in the cache as one line; ENOSPC says the disk is full. */
export function cacheError(e: unknown, file: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === undefined) return e as Error;
  if (code === 'ENOSPC') return new UserError(`${file}: disk full while downloading (free space, or set HF_HOME or HF_HUB_CACHE to another disk)`);
  return new UserError(`${file}: cannot write to the Hugging Face cache (${code}; HF_HOME or HF_HUB_CACHE choose another folder)`);
}
