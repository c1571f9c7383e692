#!/usr/bin/env node
/**
 * The fuzzer: seeded mutations of the fixtures for each untrusted input — safetensors and torch
 * .bin weights, config.json, tokenizer.json, command-line flags — run through the loaders in a
 * child process (worker.ts) watched from here. Each case ends as one of:
 *   user-error  a clear UserError (good)          loaded  a load the oracle finds sound (good)
 *   internal-error  any other exception           wrong   a load the oracle finds unsound
 *   hang   over the time limit (the child is killed and restarted)
 *   memory over the memory limit (peak RSS growth of the case, or the child's RSS while it runs)
 * See cases.ts for the oracles and corpus.ts for the inputs that once failed.
 *
 *   node dist/test/fuzz/run.js --cases 5000 --seed 1 --format safetensors,bin,config,tokenizer,flags
 *   node dist/test/fuzz/run.js --format bin --seed 1 --case 1234      # one case, with its message
 *   node dist/test/fuzz/run.js --corpus                                # the regression corpus
 *
 * Exits 1 when any case fails. Options: --timeout-ms (default 10000), --memory-mb (1024).
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FAILURES, FORMATS, type Format, type Outcome } from './cases.js';
import { CORPUS } from './corpus.js';
import type { Reply, Request } from './worker.js';

export interface FuzzOptions {
  requests: Request[];
  timeoutMs?: number;
  memoryMb?: number;
  /** called after every case */
  onResult?: (r: Reply) => void;
}

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs the requests one by one in a watched child process; returns every reply. */
export async function runFuzz(o: FuzzOptions): Promise<Reply[]> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const memoryMb = o.memoryMb ?? 1024;
  const replies: Reply[] = [];
  let child: ChildProcess | undefined;
  let baseline = 0;
  const start = async (): Promise<ChildProcess> => {
    const c = fork(WORKER, [], { execArgv: ['--max-old-space-size=2048'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    c.stderr?.resume();
    await new Promise<void>((resolve, reject) => {
      c.once('message', () => resolve());
      c.once('exit', (code) => reject(new Error(`fuzz worker exited with ${code} before it was ready`)));
    });
    baseline = rssMb(c.pid!);
    return c;
  };
  try {
    for (const req of o.requests) {
      child ??= await start();
      const c = child;
      const reply = await new Promise<Reply | Outcome>((resolve) => {
        const done = (v: Reply | Outcome) => {
          clearTimeout(timer);
          clearInterval(watch);
          c.removeAllListeners('message');
          c.removeAllListeners('exit');
          resolve(v);
        };
        const timer = setTimeout(() => done('hang'), timeoutMs);
        // a blow-up must be stopped while it happens, not measured afterwards
        const watch = setInterval(() => {
          if (rssMb(c.pid!) - baseline > 2 * memoryMb) done('memory');
        }, 50);
        c.on('message', (m: Reply) => done(m));
        c.on('exit', () => done('memory')); // killed by V8's heap limit or the system
        c.send(req);
      });
      let r: Reply;
      if (typeof reply === 'string') {
        c.kill('SIGKILL');
        child = undefined;
        const index = 'corpus' in req ? req.corpus : req.index;
        r = { outcome: reply, detail: reply === 'hang' ? `over ${timeoutMs} ms` : 'over the memory limit', index, what: String(index), peakMb: NaN };
      } else {
        r = reply.peakMb > memoryMb && !FAILURES.includes(reply.outcome) ? { ...reply, outcome: 'memory', detail: `${reply.detail} (peak +${reply.peakMb.toFixed(0)} MB)` } : reply;
      }
      replies.push(r);
      o.onResult?.(r);
    }
  } finally {
    child?.kill('SIGKILL');
  }
  return replies;
}

export function caseRequests(format: Format, seed: number, count: number, first = 0): Request[] {
  return Array.from({ length: count }, (_, i) => ({ format, seed, index: first + i }));
}

async function main(argv: string[]): Promise<number> {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i < 0 ? undefined : argv[i + 1];
  };
  const seed = Number(opt('seed') ?? 1);
  const cases = Number(opt('cases') ?? 200);
  const formats = (opt('format') ?? FORMATS.join(',')).split(',') as Format[];
  for (const f of formats) if (!FORMATS.includes(f)) throw new Error(`--format ${f}: one of ${FORMATS.join(', ')}`);
  const one = opt('case');
  const requests: Request[] = argv.includes('--corpus') ? CORPUS.map((c) => ({ corpus: c.name }))
    : one !== undefined ? formats.map((f) => ({ format: f, seed, index: Number(one) }))
    : formats.flatMap((f) => caseRequests(f, seed, cases));
  const counts = new Map<string, Map<Outcome, number>>();
  let failed = 0;
  let done = 0;
  const started = Date.now();
  await runFuzz({
    requests,
    timeoutMs: Number(opt('timeout-ms') ?? 10_000),
    memoryMb: Number(opt('memory-mb') ?? 1024),
    onResult(r) {
      const format = typeof r.index === 'string' ? 'corpus' : r.what.split(' ')[0];
      const byOutcome = counts.get(format) ?? new Map<Outcome, number>();
      byOutcome.set(r.outcome, (byOutcome.get(r.outcome) ?? 0) + 1);
      counts.set(format, byOutcome);
      if (FAILURES.includes(r.outcome) || one !== undefined || (typeof r.index === 'string' && r.outcome !== 'user-error')) {
        if (FAILURES.includes(r.outcome) || typeof r.index === 'string') failed++;
        console.log(`${r.outcome.toUpperCase()} case ${r.index} (${r.what}): ${r.detail}`);
      }
      if (++done % 500 === 0) console.error(`… ${done}/${requests.length} cases, ${((Date.now() - started) / 1000).toFixed(0)} s`);
    },
  });
  for (const [format, byOutcome] of counts) {
    console.log(`${format}: ${[...byOutcome].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  console.log(`${done} cases in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${seed}: ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code), (e) => {
    console.error(e);
    process.exitCode = 2;
  });
}
