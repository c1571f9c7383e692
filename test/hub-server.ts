/**
 * A Hugging Face Hub on 127.0.0.1 (ephemeral port) serving fixture folders under the Hub's URL
 * layout, for the download tests:
 *
 *   GET /api/models/{repo}/revision/{rev}   {"id", "sha", "siblings": [{"rfilename"}]}
 *   GET /{repo}/resolve/{rev}/{file}         small files: 200, ETag = git blob sha1
 *                                            *.safetensors / *.bin: 302 to /cdn/{sha256} (an absolute URL, or a path),
 *                                            X-Linked-Etag = sha256, X-Linked-Size
 *   GET /cdn/{sha256}                        the bytes, with Range support (206 / 416)
 *
 * Every resolve answer carries X-Repo-Commit. Knobs make it misbehave the ways a real network
 * does: drop the connection after N bytes, ignore Range, serve corrupt bytes, require a token.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface FakeRepo {
  dir: string;
  /** the commit `main` points to */
  sha: string;
  /** files of `dir` to list; default all */
  files?: string[];
}

export interface Knobs {
  /** the next `cuts` CDN answers close the connection after `cutAfter` body bytes */
  cutAfter?: number;
  cuts?: number;
  ignoreRange?: boolean;
  /** CDN answers flip one byte of the file */
  corrupt?: boolean;
  /** the LFS redirect as a path (`/cdn/...`) instead of an absolute URL */
  relativeRedirect?: boolean;
  /** when set, requests need `Authorization: Bearer {token}` */
  token?: string;
}

export interface Seen {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export interface FakeHub {
  url: string;
  requests: Seen[];
  knobs: Knobs;
  close(): Promise<void>;
}

const LFS = /\.(safetensors|bin)$/;

export function gitBlobSha1(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function startFakeHub(repos: Record<string, FakeRepo>, knobs: Knobs = {}): Promise<FakeHub> {
  const requests: Seen[] = [];
  const byHash = new Map<string, Buffer>();
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    requests.push({ method: req.method ?? '', url, range: req.headers.range, authorization: req.headers.authorization });
    if (knobs.token !== undefined && req.headers.authorization !== `Bearer ${knobs.token}` && !url.startsWith('/cdn/')) {
      res.writeHead(401, { 'X-Error-Code': 'RepoNotFound' }).end('{"error":"Invalid credentials"}');
      return;
    }
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(url);
    if (m) return listing(res, repos[m[1]], m[2]);
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    if (m) return resolve(req, res, repos[m[1]], m[2], m[3]);
    m = /^\/cdn\/([0-9a-f]{64})$/.exec(url);
    if (m && byHash.has(m[1])) return cdn(req, res, byHash.get(m[1])!);
    res.writeHead(404).end();
  });

  function listing(res: http.ServerResponse, repo: FakeRepo | undefined, rev: string): void {
    if (!repo) return void res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end('{"error":"Repository not found"}');
    if (rev !== 'main' && rev !== repo.sha) return void res.writeHead(404, { 'X-Error-Code': 'RevisionNotFound' }).end('{"error":"Invalid rev id"}');
    const files = repo.files ?? fs.readdirSync(repo.dir);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ id: 'x', sha: repo.sha, siblings: files.map((f) => ({ rfilename: f })) }));
  }

  function resolve(req: http.IncomingMessage, res: http.ServerResponse, repo: FakeRepo | undefined, rev: string, file: string): void {
    if (!repo) return void res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end();
    if (rev !== 'main' && rev !== repo.sha) return void res.writeHead(404, { 'X-Error-Code': 'RevisionNotFound' }).end();
    const full = path.join(repo.dir, file);
    if (!(repo.files ?? fs.readdirSync(repo.dir)).includes(file) || !fs.existsSync(full)) {
      return void res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end();
    }
    const bytes = fs.readFileSync(full);
    if (LFS.test(file)) {
      const hash = sha256(bytes);
      byHash.set(hash, bytes);
      const { port } = server.address() as AddressInfo;
      res.writeHead(302, {
        Location: `${knobs.relativeRedirect ? '' : `http://127.0.0.1:${port}`}/cdn/${hash}`, 'X-Repo-Commit': repo.sha,
        'X-Linked-Etag': `"${hash}"`, 'X-Linked-Size': String(bytes.length), ETag: `"${gitBlobSha1(Buffer.from('pointer'))}"`,
      }).end();
      return;
    }
    res.writeHead(200, { 'X-Repo-Commit': repo.sha, ETag: `"${gitBlobSha1(bytes)}"`, 'Content-Length': bytes.length });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }

  function cdn(req: http.IncomingMessage, res: http.ServerResponse, original: Buffer): void {
    let bytes = original;
    if (knobs.corrupt) {
      bytes = Buffer.from(original);
      bytes[bytes.length >> 1] ^= 0xff;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !knobs.ignoreRange) {
      start = Number(range[1]);
      if (start >= bytes.length) return void res.writeHead(416, { 'Content-Range': `bytes */${bytes.length}` }).end();
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${bytes.length - 1}/${bytes.length}`, 'Content-Length': bytes.length - start, ETag: '"cdn-md5"' });
    } else {
      res.writeHead(200, { 'Content-Length': bytes.length, ETag: '"cdn-md5"' });
    }
    const body = bytes.subarray(start);
    if (knobs.cuts && knobs.cutAfter !== undefined && knobs.cutAfter < body.length) {
      knobs.cuts--;
      res.write(body.subarray(0, knobs.cutAfter), () => res.destroy());
      return;
    }
    res.end(body);
  }

  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    knobs,
    close: () => new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}
