/**
 * One file of a repo into blobs/{etag}: streamed into blobs/{etag}.incomplete, resumed with
 * `Range: bytes=N-` when that exists (from an earlier run, or a connection that dropped in this
 * one), renamed into place only when its size matches what the server announced and, for an LFS
 * file (whose etag is its sha256), its sha256 matches too.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../errors.js';
import { cacheError, mkdirs } from './cache.js';
import { discard, hubGet, networkError, statusError, type HubSettings } from './http.js';

/** Tries per file; another try is made only after one that received bytes. */
const MAX_ATTEMPTS = 5;
const SHA256 = /^[0-9a-f]{64}$/;
/** An etag becomes a file name: git sha1, LFS sha256, or another server's token of these characters. */
const SAFE_ETAG = /^[A-Za-z0-9._-]{1,128}$/;

export interface DownloadProgress {
  /** a download of `total` bytes (undefined: unknown) starts with `done` bytes already there */
  start(label: string, total: number | undefined, done: number): { update(done: number): void; done(): void };
}

/**
 * Downloads `url` (a resolve URL of a pinned commit) unless its blob is cached; returns the blob's
 * path. `what` names the file in messages, e.g. "org/name/model.safetensors".
 */
export async function downloadBlob(hub: HubSettings, url: string, what: string, repoDir: string, progress?: DownloadProgress): Promise<string> {
  let { res, seen } = await hubGet(hub, url, what);
  if (!res.ok) throw await statusError(res, hub, what, '');
  const etag = seen.etag;
  if (!etag || !SAFE_ETAG.test(etag)) throw new UserError(`${what}: the server sent ${etag ? `an unusable ETag "${etag}"` : 'no ETag'}`);
  const blob = path.join(repoDir, 'blobs', etag);
  if (fs.existsSync(blob)) {
    await discard(res);
    return blob;
  }
  mkdirs(path.dirname(blob));
  const partial = `${blob}.incomplete`;
  let have = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
  let bar: ReturnType<DownloadProgress['start']> | undefined;
  try {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempt > 1 || have > 0) {
        await discard(res);
        ({ res, seen } = await hubGet(hub, url, what, have > 0 ? { Range: `bytes=${have}-` } : {}));
        if (seen.etag !== etag) throw new UserError(`${what}: changed on the server during the download (etag ${etag} -> ${seen.etag})`);
      }
      if (!res.ok && res.status !== 416) throw await statusError(res, hub, what, '');
      const start = startOffset(res, have);
      if (start === undefined) {
        // 416 (the partial file is longer than this one) or a range we did not ask for: start over
        fs.rmSync(partial, { force: true });
        have = 0;
        continue;
      }
      const total = seen.size ?? totalSize(res);
      bar ??= progress?.start(what, total, start);
      let failure: unknown;
      try {
        have = await append(res, partial, start, (n) => bar?.update(n));
      } catch (e) {
        if (e instanceof UserError) throw e;
        failure = e;
        have = fs.statSync(partial).size;
      }
      if (failure === undefined && (total === undefined || have >= total)) {
        if (total !== undefined && have !== total) throw new UserError(`${what}: received ${have} bytes, the server announced ${total}`);
        verify(partial, etag, what);
        fs.renameSync(partial, blob);
        return blob;
      }
      if (have === start) {
        throw failure ? networkError(failure, hub, what)
          : new UserError(`${what}: the connection to ${hub.endpoint} closed after ${have} of ${total} bytes; run again to resume`);
      }
    }
    throw new UserError(`${what}: the download from ${hub.endpoint} broke off ${MAX_ATTEMPTS} times; run again to resume`);
  } finally {
    bar?.done();
  }
}

/** Where the body of `res` starts in the file: 0 for a whole file (200), N for `206 bytes N-`; undefined: start over. */
function startOffset(res: Response, have: number): number | undefined {
  if (res.status === 416) return undefined;
  if (res.status !== 206) return 0;
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m && Number(m[1]) === have ? have : undefined;
}

function totalSize(res: Response): number | undefined {
  const range = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
  if (range) return Number(range[1]);
  const length = res.headers.get('content-length');
  return length && /^\d+$/.test(length) ? Number(length) : undefined;
}

/** Writes the body at byte `offset` of `file` (truncating what follows); returns the file's new size. */
async function append(res: Response, file: string, offset: number, onBytes: (done: number) => void): Promise<number> {
  let fd: number;
  try {
    fd = fs.openSync(file, offset > 0 ? 'r+' : 'w');
    fs.ftruncateSync(fd, offset);
  } catch (e) {
    throw cacheError(e, file);
  }
  let done = offset;
  try {
    if (!res.body) return done;
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      try {
        for (let w = 0; w < chunk.length;) w += fs.writeSync(fd, chunk, w, chunk.length - w, done + w);
      } catch (e) {
        throw cacheError(e, file);
      }
      done += chunk.length;
      onBytes(done);
    }
    return done;
  } finally {
    fs.closeSync(fd);
  }
}

/** An LFS etag is the file's sha256: a mismatch deletes the download. */
function verify(file: string, etag: string, what: string): void {
  if (!SHA256.test(etag)) return;
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0, n; (n = fs.readSync(fd, buf, 0, buf.length, pos)) > 0; pos += n) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  const got = hash.digest('hex');
  if (got !== etag) {
    fs.rmSync(file, { force: true });
    throw new UserError(`${what}: sha256 ${got} of the download does not match the Hub's ${etag}; deleted it, run again`);
  }
}
