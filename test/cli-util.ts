import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT } from './fixtures.js';
export { FIXTURES, ROOT } from './fixtures.js';
export const MAIN = join(ROOT, 'dist/src/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `cli` without blocking the test process, so that several runs (or a test beside them) overlap. */
export function cliAsync(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return cliChild(args, env).done;
}

/** `cliAsync` with the child process at hand (to send it signals). */
export function cliChild(args: readonly string[], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env });
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'mamba-ts-cli-'));
}

/** `cli` with `input` on its stdin (a pipe, so not a terminal). */
export function cliWithStdin(input: string, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, encoding: 'utf8', input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
