/**
 * docs/ops.md, the op index, against the code: every method of the Backend and GradKernels
 * interfaces (as src/backend/backend.ts declares them) has its row, and every file it names exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './fixtures.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** the method names of `export interface <name> { ... }` in the TypeScript source */
function methodsOf(source: string, name: string): string[] {
  const start = source.indexOf(`export interface ${name} {`);
  assert.ok(start >= 0, `interface ${name} not found`);
  const body = source.slice(start, source.indexOf('\n}\n', start));
  return [...body.matchAll(/^ {2}(\w+)\s*\(/gm)].map((m) => m[1]);
}

const backend = read('src/backend/backend.ts');
const index = read('docs/ops.md');

test('docs/ops.md names every Backend and GradKernels method', () => {
  for (const iface of ['Backend', 'GradKernels']) {
    const methods = methodsOf(backend, iface);
    assert.ok(methods.length > 10, `${iface}: only ${methods.length} methods parsed`);
    const missing = methods.filter((m) => !index.includes(`\`${m}\``));
    assert.deepEqual(missing, [], `${iface} methods missing from docs/ops.md`);
  }
});

test('every file docs/ops.md names exists', () => {
  const paths = [...index.matchAll(/`((?:src|test)\/[\w./-]+)`/g)].map((m) => m[1]);
  assert.ok(paths.length > 50, `only ${paths.length} paths found`);
  assert.deepEqual(paths.filter((p) => !existsSync(join(ROOT, p))), []);
});

test('src/backend/backend.ts links the op index', () => {
  assert.match(backend, /docs\/ops\.md/);
});
