/**
 * The fuzzer (test/fuzz/run.ts) as part of `npm test`: a bounded run of every format, and the
 * corpus of inputs that once failed, in-process under the fuzzer's watch (time and peak memory)
 * and through the CLI (one line naming the file or field, exit code 2). Longer runs by hand:
 * `node dist/test/fuzz/run.js --cases 5000 --seed N` (see the README, "Fuzzing").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliAsync } from './cli-util.js';
import { FAILURES, FORMATS, type Outcome } from './fuzz/cases.js';
import { CORPUS } from './fuzz/corpus.js';
import { caseRequests, runFuzz } from './fuzz/run.js';

const CASES = 200;
const SEED = 20;

test(`fuzz: ${CASES} seeded cases per format end in a UserError or a sound load`, async () => {
  const replies = await runFuzz({ requests: FORMATS.flatMap((f) => caseRequests(f, SEED, CASES)) });
  assert.equal(replies.length, FORMATS.length * CASES);
  const failures = replies.filter((r) => FAILURES.includes(r.outcome)).map((r) => `${r.outcome} ${r.index} (${r.what}): ${r.detail}`);
  assert.deepEqual(failures, []);
  for (const f of FORMATS) {
    const outcomes = new Map<Outcome, number>();
    for (const r of replies.filter((r) => r.what.startsWith(`${f} `))) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    // both kinds of good outcome occur: the mutations reach the checks and the oracles both
    assert.ok((outcomes.get('user-error') ?? 0) > CASES / 4, `${f}: ${[...outcomes]}`);
    assert.ok((outcomes.get('loaded') ?? 0) > 0, `${f}: ${[...outcomes]}`);
  }
});

test('fuzz corpus: every input that once failed is a UserError naming the file or field, in bounded time and memory', async () => {
  const replies = await runFuzz({ requests: CORPUS.map((c) => ({ corpus: c.name })), memoryMb: 512 });
  assert.equal(replies.length, CORPUS.length);
  for (const r of replies) {
    assert.equal(r.outcome, 'user-error', `${r.index}: ${r.detail}`);
    assert.ok(r.peakMb < 512, `${r.index}: peak +${r.peakMb} MB`);
  }
});

test('fuzz corpus through the CLI: one line, exit code 2, no internal error', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-corpus-'));
  try {
    for (const [i, entry] of CORPUS.entries()) {
      const dir = path.join(tmp, String(i));
      fs.mkdirSync(dir);
      const argv = entry.build(dir);
      if (argv[0] === '--read-bin') continue; // a library call, not a command line
      const r = await cliAsync(['generate', ...argv]);
      assert.equal(r.code, 2, `${entry.name}: exit ${r.code}, stderr ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^mamba-ts: [^\n]+\n$/, entry.name);
      assert.doesNotMatch(r.stderr, /internal error/, entry.name);
      assert.match(r.stderr, entry.expect, entry.name);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
