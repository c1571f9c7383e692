/**
 * Requests to the Hub with Node's fetch: redirects followed by hand (at most MAX_REDIRECTS), so
 * that the Hub's own headers (X-Repo-Commit, X-Linked-Etag, X-Linked-Size) are read from the
 * response that carries them before an LFS file is redirected to its CDN; the token goes only to
 * the endpoint's origin. Failures become one UserError line naming the repo and the endpoint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../errors.js';
import { hfHome } from './cache.js';

const MAX_REDIRECTS = 10;
const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubSettings {
  /** e.g. https://huggingface.co, no trailing slash */
  endpoint: string;
  token?: string;
  offline: boolean;
}

/** `endpoint` (the --endpoint flag) wins over HF_ENDPOINT; the token is HF_TOKEN or the file `huggingface-cli login` writes. */
export function hubSettings(env: NodeJS.ProcessEnv, endpoint?: string): HubSettings {
  const [source, url] = endpoint !== undefined ? ['--endpoint', endpoint]
    : env.HF_ENDPOINT ? ['HF_ENDPOINT', env.HF_ENDPOINT] : ['', DEFAULT_ENDPOINT];
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new UserError(`${source}: "${url}" is not an http(s) URL`);
  }
  return { endpoint: url.replace(/\/+$/, ''), token: readToken(env), offline: isTrue(env.HF_HUB_OFFLINE) };
}

function readToken(env: NodeJS.ProcessEnv): string | undefined {
  const token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  if (token) return token.trim();
  const file = env.HF_TOKEN_PATH || path.join(hfHome(env), 'token');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() || undefined : undefined;
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());
}

/** What the Hub says about a file, gathered along the redirects. */
export interface FileHeaders {
  commit?: string;
  /** X-Linked-Etag of an LFS file (its sha256), else the ETag; quotes and W/ removed */
  etag?: string;
  /** X-Linked-Size, else the length of the final response */
  size?: number;
}

/**
 * GET `url`, following redirects; `what` names the request in errors (e.g. "org/name@main").
 * Returns the final response (any status) and the headers seen on the way.
 */
export async function hubGet(hub: HubSettings, url: string, what: string, headers: Record<string, string> = {}): Promise<{ res: Response; seen: FileHeaders }> {
  const seen: FileHeaders = {};
  const origin = new URL(hub.endpoint).origin;
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const h: Record<string, string> = { 'Accept-Encoding': 'identity', 'User-Agent': 'mamba-ts', ...headers };
    if (hub.token && new URL(current).origin === origin) h.Authorization = `Bearer ${hub.token}`;
    let res: Response;
    try {
      res = await fetch(current, { headers: h, redirect: 'manual' });
    } catch (e) {
      throw networkError(e, hub, what);
    }
    seen.commit ??= res.headers.get('x-repo-commit') ?? undefined;
    const linked = res.headers.get('x-linked-etag');
    if (linked) seen.etag ??= normalizeEtag(linked);
    const linkedSize = res.headers.get('x-linked-size');
    if (linkedSize && /^\d+$/.test(linkedSize)) seen.size ??= Number(linkedSize);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await discard(res);
      current = new URL(location, current).href;
      continue;
    }
    const etag = res.headers.get('etag');
    if (etag) seen.etag ??= normalizeEtag(etag);
    return { res, seen };
  }
  throw new UserError(`${what}: more than ${MAX_REDIRECTS} redirects from ${hub.endpoint}`);
}

/** Drops a body not to be read; one that broke off already has nothing more to say. */
export async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => {});
}

function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** No answer from the server (refused, DNS, reset): the cache may stand in for it. */
export class HubUnreachable extends UserError {}

export function networkError(e: unknown, hub: HubSettings, what: string): UserError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
  return new HubUnreachable(`${what}: cannot reach ${hub.endpoint} (${reason}); HF_HUB_OFFLINE=1 uses the local cache only`);
}

/** The Hub knows no such repo (or hides a private one): perhaps it was meant as a local folder. */
export class RepoNotFound extends UserError {}

/** A non-success status as one line: 401/403 name HF_TOKEN, 404 says what was not found. */
export async function statusError(res: Response, hub: HubSettings, what: string, revision: string): Promise<UserError> {
  await discard(res);
  const code = res.headers.get('x-error-code');
  const status = `HTTP ${res.status} from ${hub.endpoint}`;
  if (code === 'RevisionNotFound') return new UserError(`${what}: revision "${revision}" not found (${status}; --revision takes a branch, tag or commit)`);
  if (code === 'EntryNotFound') return new UserError(`${what}: file not found in the repo (${status})`);
  if (code === 'GatedRepo') return new UserError(`${what}: gated repo (${status}): accept its conditions on the Hub and set HF_TOKEN to a token of that account`);
  if (res.status === 401 || res.status === 403) {
    return hub.token
      ? new UserError(`${what}: access denied (${status}): HF_TOKEN was rejected or has no access to this repo`)
      : new RepoNotFound(`${what}: access denied (${status}): the repo is private or gated, or does not exist; set HF_TOKEN to a token with access`);
  }
  if (res.status === 404) return new RepoNotFound(`${what}: repository not found (${status})`);
  return new UserError(`${what}: ${status}`);
}
