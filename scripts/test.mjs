#!/usr/bin/env node
/**
 * `npm test` after the build: runs every compiled test file with node's test runner.
 *
 * - WebGPU tests run on the machine's Vulkan driver; with none configured and Debian's chromium
 *   installed, its SwiftShader (a software Vulkan driver) is used, so a fresh clone needs no setup.
 * - Skipped tests are collected by a reporter of their own and listed at the end in one visible
 *   block with their reasons. Under CI=true, or with --no-skips, any skip fails the run.
 *
 * Arguments are passed on to `node --test` (e.g. a file list); the default is every *.test.js
 * under dist/test (not the helpers beside them, such as the fuzzer's worker).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const noSkips = args.includes('--no-skips') || process.env.CI === 'true';
const files = args.filter((a) => a !== '--no-skips');

/** every *.test.js below `dir` */
function testFiles(dir) {
  return readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(dir, f));
}

const env = { ...process.env };
const SWIFTSHADER = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib64/chromium/vk_swiftshader_icd.json'];
if (!env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES) {
  const icd = SWIFTSHADER.find((f) => existsSync(f));
  if (icd) env.VK_ICD_FILENAMES = icd;
}
env.XDG_RUNTIME_DIR ??= tmpdir();

const work = mkdtempSync(join(tmpdir(), 'mamba-ts-test-'));
const skipLog = join(work, 'skipped.jsonl');
const child = spawn(process.execPath, [
  '--test',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${join(root, 'scripts/skips-reporter.mjs')}`, `--test-reporter-destination=${skipLog}`,
  ...(files.length ? files : testFiles(join(root, 'dist/test'))),
], { cwd: root, env, stdio: 'inherit' });

const forward = (signal) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);

child.on('exit', (code, signal) => {
  const skipped = existsSync(skipLog)
    ? readFileSync(skipLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    : [];
  rmSync(work, { recursive: true, force: true });
  let rc = code ?? (signal ? 1 : 0);
  if (skipped.length) {
    const reasons = new Map();
    for (const s of skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    console.log(`\n!! ${skipped.length} test${skipped.length === 1 ? '' : 's'} SKIPPED:`);
    for (const [reason, n] of reasons) console.log(`!!   ${n} × ${reason}`);
    console.log(`!! Install Debian's chromium (apt-get install chromium libvulkan1) for its SwiftShader Vulkan driver, or set VK_ICD_FILENAMES.`);
    if (noSkips) {
      console.log('!! CI=true / --no-skips: skipped tests fail the run.');
      rc = rc || 1;
    }
  } else if (rc === 0) {
    console.log('\nno test skipped');
  }
  process.exit(rc);
});
