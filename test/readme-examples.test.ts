/**
 * The README's ```ts examples run as written: `from 'mamba-ts'` points at the built entry,
 * 'path/to/checkpoint' at a copy of the mamba2-tiny fixture (no tokenizer.json: its 300 ids are
 * too few for GPT-NeoX's, so text goes through the byte-level fallback), types are stripped by
 * TypeScript's transpileModule, and each runs in its own node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { FIXTURES, ROOT, tempDir } from './cli-util.js';

const blocks = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

const dir = tempDir();
for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(FIXTURES, 'hf/mamba2-tiny', f), join(dir, f));

function runExample(source: string): { code: number | null; stdout: string; stderr: string } {
  const code = source
    .replaceAll("from 'mamba-ts'", `from ${JSON.stringify(join(ROOT, 'dist/src/index.js'))}`)
    .replaceAll("'path/to/checkpoint'", JSON.stringify(dir));
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const file = join(tempDir(), 'example.mjs');
  writeFileSync(file, js);
  const r = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the README has the API examples (load, forward, step + clone, streaming)', () => {
  assert.equal(blocks.length, 2);
  assert.ok(blocks.every((b) => b.includes("'path/to/checkpoint'") && b.includes('releaseBackend(backend)')));
});

test('README example 1: ids from text, forward, readLogits, step on a state and its clone', () => {
  const r = runExample(blocks[0]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^next token: ".*"$/);
  assert.equal(lines[1], 'branches: [ 1, 300 ] [ 1, 300 ]');
});

test('README example 2: streaming generation with TextStream', () => {
  const r = runExample(blocks[1]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[lines.length - 2], /^\d+ tokens decoded$/);
  // 20 new tokens, no end-of-text id with bytes: the first from the prefill, 19 from step
  assert.equal(lines[lines.length - 2], '19 tokens decoded');
  assert.ok(lines.slice(0, -2).join('\n').length > 0);
});
