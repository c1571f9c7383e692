/**
 * The WebGPU backend in a browser: headless Chromium (Debian's `chromium`, which .ci/run
 * installs) opens a page served from this build, which imports the compiled ES modules, opens
 * navigator.gpu through the browser entry (src/browser.ts; SwiftShader here, through
 * VK_ICD_FILENAMES) and runs test/browser-case.ts; the
 * page posts the logits back and they must match the CPU backend's in Node.
 * Without Chromium the test skips, saying why, except in CI, where it must run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { test } from 'node:test';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { runCase, STACKS, type CaseResult } from './browser-case.js';
import { ROOT } from './cli-util.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TOL = 1e-4; // max abs difference / max abs value

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
let body;
try {
  const { createWebGpuBackend } = await import('/dist/src/browser.js'); // the package's browser entry
  const { runCase, STACKS } = await import('/dist/test/browser-case.js');
  const be = await createWebGpuBackend();
  const results = {};
  for (const s of STACKS) results[s] = await runCase(be, s);
  body = JSON.stringify({ adapter: be.info.adapterName, results });
} catch (e) {
  body = JSON.stringify({ error: String(e && e.stack || e) });
}
await fetch('/result', { method: 'POST', body });
</script>`;

interface PageResult { adapter?: string; results?: Record<string, CaseResult>; error?: string }

/** Serves the page and dist/, opens Chromium on it and resolves with what the page posts. */
async function inBrowser(timeoutMs: number): Promise<PageResult> {
  let settle!: (r: PageResult | Error) => void;
  const posted = new Promise<PageResult | Error>((res) => { settle = res; });
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/result') {
      let text = '';
      req.on('data', (c) => { text += c; });
      req.on('end', () => { res.end(); settle(JSON.parse(text) as PageResult); });
      return;
    }
    const url = req.url ?? '/';
    const file = normalize(join(ROOT, url));
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    } else if (url.startsWith('/dist/') && file.startsWith(join(ROOT, 'dist')) && existsSync(file)) {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  const profile = mkdtempSync(join(tmpdir(), 'mamba-ts-chromium-'));
  const browser = spawn(CHROMIUM, [
    '--headless=new', '--no-sandbox', '--no-first-run', `--user-data-dir=${profile}`,
    '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader',
    `http://127.0.0.1:${port}/`,
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true }); // its own process group: killed whole
  const exited = new Promise((res) => browser.once('exit', res));
  let stderr = '';
  browser.stderr.on('data', (c) => { stderr += c; });
  browser.on('exit', (code) => settle(new Error(`chromium exited (${code}) before the page posted: ${stderr.slice(-2000)}`)));
  const timer = setTimeout(() => settle(new Error(`no result from the page within ${timeoutMs / 1000} s: ${stderr.slice(-2000)}`)), timeoutMs);
  try {
    const r = await posted;
    if (r instanceof Error) throw r;
    return r;
  } finally {
    clearTimeout(timer);
    if (browser.exitCode === null && browser.signalCode === null) {
      process.kill(-browser.pid!, 'SIGKILL'); // the browser and its GPU, renderer and zygote children
      await exited;
    }
    server.close();
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

function relError(got: number[], want: number[]): number {
  assert.equal(got.length, want.length, 'logit count');
  let diff = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  assert.ok(scale > 1e-3, 'logits too small for a meaningful comparison');
  return diff / scale;
}

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CHROMIUM)`;
if (skip && process.env.CI) throw new Error(`${skip}: CI must run the browser test (.ci/run installs chromium)`);

test('browser: navigator.gpu runs the models like the CPU does (forward and step)', { skip, timeout: 240_000 }, async (t) => {
  const page = await inBrowser(180_000);
  assert.equal(page.error, undefined, `the page failed: ${page.error}`);
  t.diagnostic(`adapter in the browser: ${page.adapter}`);
  const cpu = new CpuBackend();
  for (const stack of STACKS) {
    const want = await runCase(cpu, stack);
    const got = page.results![stack];
    const f = relError(got.forward, want.forward), s = relError(got.steps, want.steps);
    t.diagnostic(`${stack}: forward ${f.toExponential(1)}, step ${s.toExponential(1)}`);
    assert.ok(f <= TOL, `${stack} forward: ${f} > ${TOL}`);
    assert.ok(s <= TOL, `${stack} step: ${s} > ${TOL}`);
  }
});
